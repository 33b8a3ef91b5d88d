DROP INDEX advisory_sessions_by_lis;
DROP INDEX advisory_sessions_id;
