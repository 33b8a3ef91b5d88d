ALTER TABLE tenants DROP COLUMN registry_id, DROP COLUMN rhf_code, DROP COLUMN kommunenummer, DROP COLUMN orgnr;
DROP TABLE org_registry;
DROP TABLE rhf;
