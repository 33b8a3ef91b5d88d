DROP TABLE tenant_modules;
DROP TABLE memberships;
DROP TABLE people;
DROP TABLE tenants;
DROP FUNCTION kportal_person();
DROP FUNCTION kportal_tenant();
