-- Platform-wide roles: held by a person everywhere, not in one tenant.
-- rhf_admin is scoped to one RHF (the foretak it may onboard and suspend).
CREATE TABLE platform_roles (
  person_id  uuid NOT NULL REFERENCES people (id),
  role       text NOT NULL CHECK (role IN ('rhf_admin', 'hdir', 'platform_admin')),
  rhf_code   text REFERENCES rhf (code),
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((role = 'rhf_admin') = (rhf_code IS NOT NULL))
);
CREATE UNIQUE INDEX platform_roles_key ON platform_roles (person_id, role, coalesce(rhf_code, ''));

-- Who onboarded a tenant, and why its status last changed (suspension keeps
-- every row of the tenant; it only closes the door).
ALTER TABLE tenants
  ADD COLUMN onboarded_by uuid REFERENCES people (id),
  ADD COLUMN status_changed_at timestamptz,
  ADD COLUMN status_reason text NOT NULL DEFAULT '';

-- The secret of an invitation link, hashed (hex of sha256), set by the
-- invitation page for one transaction: whoever holds the link may read that
-- one invitation without knowing its tenant.
CREATE FUNCTION kportal_invitation_token() RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT nullif(current_setting('app.invitation_token', true), '')
$$;

-- Invitations: someone is asked to take a role in a tenant. The link carries a
-- random token; only its sha256 is stored.
CREATE TABLE invitations (
  tenant_id       uuid NOT NULL REFERENCES tenants (id),
  id              uuid NOT NULL DEFAULT gen_random_uuid(),
  email           text NOT NULL CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$'),
  role            text NOT NULL CHECK (role IN ('lis', 'leder', 'veileder', 'supervisor', 'uao', 'tenant_admin')),
  token_hash      text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  invited_by      uuid REFERENCES people (id),
  invited_by_name text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  accepted_at     timestamptz,
  accepted_by     uuid REFERENCES people (id),
  revoked_at      timestamptz,
  PRIMARY KEY (tenant_id, id),
  CHECK (accepted_at IS NULL OR revoked_at IS NULL)
);
CREATE INDEX invitations_email ON invitations (tenant_id, lower(email));
ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invitations
  USING (tenant_id = kportal_tenant() OR token_hash = kportal_invitation_token())
  WITH CHECK (tenant_id = kportal_tenant());
