-- API keys for machine clients of /api/v1 (modules/api): Helsedirektoratet's
-- case system (scope records:read) and a tenant's HR/LMS system (scope
-- tenant:<slug>:read). National tables, not tenant-scoped. Only a SHA-256 of
-- each key is kept; the key itself is shown once, when it is made.
--
-- Row-level security, two narrow ways in:
--   api_keys_admin   everything, when the transaction sets app.api_keys_admin
--                    = 'on' (modules/api sets it only on the platform_admin
--                    pages, after the route guard checked the role);
--   api_key_lookup   SELECT of the one key whose hash the transaction names in
--                    app.api_key_hash (the bearer middleware), so a request
--                    reads no other key.
CREATE FUNCTION kportal_api_keys_admin() RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT coalesce(current_setting('app.api_keys_admin', true), '') = 'on'
$$;

CREATE TABLE api_keys (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  owner_tenant_id  uuid NOT NULL REFERENCES tenants (id),
  scopes           text[] NOT NULL CHECK (cardinality(scopes) >= 1),
  prefix           text NOT NULL UNIQUE, -- shown in lists and logs to tell keys apart
  hash             bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
  created_by       uuid NOT NULL REFERENCES people (id),
  created_at       timestamptz NOT NULL DEFAULT now(),
  revoked_by       uuid REFERENCES people (id),
  revoked_at       timestamptz,
  CHECK ((revoked_by IS NULL) = (revoked_at IS NULL))
);
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY api_keys_admin ON api_keys
  USING (kportal_api_keys_admin()) WITH CHECK (kportal_api_keys_admin());
CREATE POLICY api_key_lookup ON api_keys FOR SELECT
  USING (hash = decode(nullif(current_setting('app.api_key_hash', true), ''), 'hex'));
-- A key is never deleted or changed, only revoked (kept for the audit).
REVOKE DELETE, UPDATE ON api_keys FROM kportal_app;
GRANT UPDATE (revoked_by, revoked_at) ON api_keys TO kportal_app;

-- Who made or revoked which key, when. Append-only for kportal.
CREATE TABLE api_key_audit (
  id          bigserial PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  actor_id    uuid NOT NULL REFERENCES people (id),
  actor_name  text NOT NULL,
  action      text NOT NULL CHECK (action IN ('api_key.created', 'api_key.revoked')),
  key_id      uuid NOT NULL REFERENCES api_keys (id),
  details     text NOT NULL DEFAULT ''
);
CREATE INDEX api_key_audit_key ON api_key_audit (key_id, at);
ALTER TABLE api_key_audit ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_key_audit FORCE ROW LEVEL SECURITY;
CREATE POLICY api_keys_admin ON api_key_audit
  USING (kportal_api_keys_admin()) WITH CHECK (kportal_api_keys_admin());
REVOKE DELETE, UPDATE ON api_key_audit FROM kportal_app;
