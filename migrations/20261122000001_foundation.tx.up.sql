-- The tenant in force for this transaction, set by tenants.WithTenantTx with
-- set_config('app.tenant_id', ..., true). NULL when no tenant is set, so every
-- tenant policy matches nothing.
CREATE FUNCTION kportal_tenant() RETURNS uuid
LANGUAGE sql STABLE AS $$
  SELECT nullif(current_setting('app.tenant_id', true), '')::uuid
$$;

-- The person acting in this transaction (set with the tenant), so a person can
-- read their own memberships across tenants.
CREATE FUNCTION kportal_person() RETURNS uuid
LANGUAGE sql STABLE AS $$
  SELECT nullif(current_setting('app.person_id', true), '')::uuid
$$;

-- Tenants: the registry of organisations. Not tenant-scoped itself.
CREATE TABLE tenants (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug       text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 63),
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  kind       text NOT NULL CHECK (kind IN ('hf', 'kommune', 'private', 'national')),
  status     text NOT NULL DEFAULT 'active' CHECK (status IN ('pending', 'active', 'suspended')),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- People: one per Kratos identity, global across tenants.
CREATE TABLE people (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  identity_id uuid NOT NULL UNIQUE,
  email       text NOT NULL,
  given_name  text NOT NULL DEFAULT '',
  family_name text NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX people_email_key ON people (lower(email));

-- Memberships: a person's roles in a tenant.
CREATE TABLE memberships (
  tenant_id  uuid NOT NULL REFERENCES tenants (id),
  person_id  uuid NOT NULL REFERENCES people (id),
  role       text NOT NULL CHECK (role IN ('lis', 'leder', 'veileder', 'supervisor', 'uao', 'tenant_admin')),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, person_id, role)
);
CREATE INDEX memberships_person ON memberships (person_id);
ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON memberships
  USING (tenant_id = kportal_tenant() OR person_id = kportal_person())
  WITH CHECK (tenant_id = kportal_tenant());

-- Optional modules switched on or off per tenant (absent row: the module's default).
CREATE TABLE tenant_modules (
  tenant_id  uuid NOT NULL REFERENCES tenants (id),
  module_id  text NOT NULL,
  enabled    boolean NOT NULL,
  changed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, module_id)
);
ALTER TABLE tenant_modules ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_modules FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_modules
  USING (tenant_id = kportal_tenant())
  WITH CHECK (tenant_id = kportal_tenant());

-- The application role gets row privileges only; it owns nothing.
GRANT USAGE ON SCHEMA public TO kportal_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO kportal_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO kportal_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO kportal_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO kportal_app;
-- The migrator's own bookkeeping is not the application's business.
REVOKE ALL ON bun_migrations, bun_migration_locks FROM kportal_app;
