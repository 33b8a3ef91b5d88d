DROP TABLE advisory_reminders, advisory_notes, advisory_sessions, advisory_settings;
DROP FUNCTION kportal_advisory_history(uuid, uuid);
