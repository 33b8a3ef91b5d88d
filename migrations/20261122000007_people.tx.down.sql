DROP TABLE audit_log;
DROP TABLE delegations;
DROP INDEX invitations_lis;
ALTER TABLE invitations DROP CONSTRAINT invitations_relation_role, DROP COLUMN lis_id;
DROP TABLE person_specialties;
DROP TABLE relations;
ALTER TABLE people DROP COLUMN hpr_number;
