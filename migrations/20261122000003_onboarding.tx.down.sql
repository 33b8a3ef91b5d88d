DROP TABLE invitations;
DROP FUNCTION kportal_invitation_token();
ALTER TABLE tenants DROP COLUMN status_reason, DROP COLUMN status_changed_at, DROP COLUMN onboarded_by;
DROP TABLE platform_roles;
