DROP TABLE registration_events;
DROP TABLE registrations;
DROP FUNCTION kportal_national_review();
