DROP FUNCTION kportal_memberships_of(uuid);
