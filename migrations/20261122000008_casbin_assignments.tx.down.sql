DROP TRIGGER delegations_casbin ON delegations;
DROP FUNCTION delegations_to_casbin();
DROP TRIGGER memberships_casbin ON memberships;
DROP FUNCTION memberships_to_casbin();
DELETE FROM casbin_rules WHERE ptype = 'g';
