DROP TABLE access_log;
DROP TRIGGER people_hpr_source ON people;
DROP FUNCTION kportal_hpr_source();
ALTER TABLE people DROP COLUMN hpr_source;
