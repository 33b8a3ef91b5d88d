-- Tamper evidence (issue 15): every signature of an activity and every
-- decision on a goal (approve, reject, return) is a link in its LIS's chain,
-- one chain per LIS across every tenant they have worked in. A link holds the
-- hash of the signed content (content_hash), of the link before it
-- (prev_hash) and of itself (hash), written in the decision's own
-- transaction. The dossier prints the head's code (left(hash, 16)); anyone
-- can check it at /verifiser/<code>. Links are never updated or deleted, and
-- they hold hashes only, so erasing or anonymising the rows later leaves the
-- chain whole (a link whose row is gone is checked by its hashes alone).
CREATE TABLE record_chain (
  lis_id       uuid NOT NULL REFERENCES people (id),
  seq          bigint NOT NULL CHECK (seq > 0),
  kind         text NOT NULL CHECK (kind IN ('signature', 'goal')),
  tenant_id    uuid NOT NULL REFERENCES tenants (id),
  ref_id       uuid NOT NULL,
  content_hash text NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
  prev_hash    text NOT NULL CHECK (prev_hash ~ '^([0-9a-f]{64})?$'),
  hash         text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$'),
  at           timestamptz NOT NULL,
  PRIMARY KEY (lis_id, seq),
  -- The first link has no predecessor; every other one has.
  CHECK ((seq = 1) = (prev_hash = ''))
);
CREATE INDEX record_chain_code ON record_chain (left(hash, 16));

-- The LIS whose chain the transaction appends to or verifies (chain.Append,
-- chain.Verify set it with set_config(..., true)).
CREATE FUNCTION kportal_chain_lis() RETURNS uuid
LANGUAGE sql STABLE AS $$
  SELECT nullif(current_setting('app.chain_lis', true), '')::uuid
$$;

ALTER TABLE record_chain ENABLE ROW LEVEL SECURITY;
ALTER TABLE record_chain FORCE ROW LEVEL SECURITY;
-- Written only for the tenant in force (the decision's), which reads its own
-- links like any tenant-scoped rows.
CREATE POLICY tenant_isolation ON record_chain USING (tenant_id = kportal_tenant()) WITH CHECK (tenant_id = kportal_tenant());
-- The LIS reads their own (the dossier prints the head).
CREATE POLICY own_record ON record_chain FOR SELECT USING (kportal_own_record(lis_id));
-- Appending reads the LIS's head across tenants, verifying the whole chain:
-- hashes only, for the one LIS the transaction names.
CREATE POLICY chain_of ON record_chain FOR SELECT USING (lis_id = kportal_chain_lis());
-- The verification page finds a link by its code (no more than that link).
CREATE POLICY chain_code ON record_chain FOR SELECT
  USING (length(current_setting('app.chain_code', true)) = 16 AND left(hash, 16) = current_setting('app.chain_code', true));
REVOKE UPDATE, DELETE, TRUNCATE ON record_chain FROM kportal_app;

-- Verifying recomputes each link's content hash from the rows it was made
-- of, in every tenant; only in a transaction that says so (app.chain_verify)
-- and only for the LIS it names. chain.Verify reads hashes of these rows and
-- shows nothing of them.
CREATE FUNCTION kportal_chain_verify(lis uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT current_setting('app.chain_verify', true) = 'on' AND lis = kportal_chain_lis()
$$;
CREATE POLICY chain_verify ON goal_progress FOR SELECT USING (kportal_chain_verify(lis_id));
CREATE POLICY chain_verify ON activities FOR SELECT USING (kportal_chain_verify(lis_id));
CREATE POLICY chain_verify ON signatures FOR SELECT
  USING (EXISTS (SELECT 1 FROM activities a WHERE a.tenant_id = signatures.tenant_id
    AND a.id = signatures.activity_id AND kportal_chain_verify(a.lis_id)));
