-- Reference data: the regional health authorities and every organisation that
-- can become a tenant (helseforetak, private providers, kommuner). A kommune
-- exists here before it is onboarded as a tenant. Public facts, not tenant data.
CREATE TABLE rhf (
  code  text PRIMARY KEY CHECK (code ~ '^[A-Z]{2,4}$'),
  name  text NOT NULL,
  orgnr text NOT NULL UNIQUE CHECK (orgnr ~ '^[0-9]{9}$')
);

CREATE TABLE org_registry (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kind          text NOT NULL CHECK (kind IN ('hf', 'kommune', 'private')),
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  orgnr         text UNIQUE CHECK (orgnr ~ '^[0-9]{9}$'),
  kommunenummer text UNIQUE CHECK (kommunenummer ~ '^[0-9]{4}$'),
  rhf_code      text REFERENCES rhf (code),
  category      text NOT NULL DEFAULT '',
  fylke         text NOT NULL DEFAULT '',
  CHECK (orgnr IS NOT NULL OR kommunenummer IS NOT NULL),
  CHECK ((kind = 'kommune') = (kommunenummer IS NOT NULL))
);

ALTER TABLE tenants
  ADD COLUMN orgnr text UNIQUE CHECK (orgnr ~ '^[0-9]{9}$'),
  ADD COLUMN kommunenummer text CHECK (kommunenummer ~ '^[0-9]{4}$'),
  ADD COLUMN rhf_code text REFERENCES rhf (code),
  ADD COLUMN registry_id uuid UNIQUE REFERENCES org_registry (id);

GRANT SELECT ON rhf, org_registry TO kportal_app;
REVOKE INSERT, UPDATE, DELETE ON rhf, org_registry FROM kportal_app;
