-- Changing workplace (arbeidsstedsbytte, DOMAIN.md "Changing workplace").
-- A move is always registered, never inferred from memberships: the new
-- workplace registers (or confirms) that a LIS starts on a date, and a sync
-- job does the bookkeeping. The earlier record is not copied: it is made
-- readable at the new workplace by policy (earlier_record below), so
-- provenance (where, who signed, who approved) stays exactly as written.

-- A CSV of arrivals (the yearly LIS1 rotation), with its report.
CREATE TABLE transfer_batches (
  tenant_id  uuid NOT NULL REFERENCES tenants (id),
  id         uuid NOT NULL DEFAULT gen_random_uuid(),
  filename   text NOT NULL DEFAULT '' CHECK (length(filename) <= 300),
  created_by uuid REFERENCES people (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  rows       int NOT NULL DEFAULT 0,     -- data rows in the file
  refused    jsonb NOT NULL DEFAULT '[]', -- [{line, who, reason}] rows not registered
  PRIMARY KEY (tenant_id, id)
);

-- One move of a LIS into the tenant (tenant_id: the new workplace) from
-- from_tenant_id. status: announced (by the LIS, waiting for the new
-- workplace), registered (waiting for its start date and sync), done (the
-- sync job committed), cancelled, failed (the job refused: report says why;
-- nothing was changed, and it can be retried).
CREATE TABLE transfers (
  tenant_id      uuid NOT NULL REFERENCES tenants (id),
  id             uuid NOT NULL DEFAULT gen_random_uuid(),
  lis_id         uuid NOT NULL REFERENCES people (id),
  from_tenant_id uuid NOT NULL REFERENCES tenants (id),
  starts_on      date NOT NULL,
  template_id    uuid,
  leder_id       uuid REFERENCES people (id), -- the LIS's leder at the new workplace
  same_rhf       boolean NOT NULL,            -- kommuner belong to no RHF: false
  status         text NOT NULL DEFAULT 'registered' CHECK (status IN ('announced', 'registered', 'done', 'cancelled', 'failed')),
  registered_by  uuid REFERENCES people (id),
  registered_at  timestamptz NOT NULL DEFAULT now(),
  cancelled_by   uuid REFERENCES people (id),
  cancelled_at   timestamptz,
  synced_at      timestamptz,
  batch_id       uuid,
  report         jsonb NOT NULL DEFAULT '{}', -- what was carried over and what was refused, and why
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, template_id) REFERENCES plan_templates (tenant_id, id),
  FOREIGN KEY (tenant_id, batch_id) REFERENCES transfer_batches (tenant_id, id),
  CHECK (from_tenant_id <> tenant_id),
  CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL)),
  CHECK ((status = 'done') = (synced_at IS NOT NULL))
);
CREATE INDEX transfers_lis ON transfers (tenant_id, lis_id);
CREATE INDEX transfers_from ON transfers (from_tenant_id, lis_id);
CREATE INDEX transfers_due ON transfers (starts_on) WHERE status = 'registered';
CREATE INDEX transfers_batch ON transfers (tenant_id, batch_id) WHERE batch_id IS NOT NULL;
-- At most one move of a LIS waiting at a time, wherever it goes.
CREATE UNIQUE INDEX transfers_one_open ON transfers (lis_id) WHERE status IN ('announced', 'registered');

-- Every earlier workplace of a LIS as seen from the tenant (written by the
-- sync job: the one moved from, and every one before it), and whether it is
-- in the same RHF as the tenant (kommuner: never).
CREATE TABLE earlier_workplaces (
  tenant_id         uuid NOT NULL REFERENCES tenants (id),
  lis_id            uuid NOT NULL REFERENCES people (id),
  earlier_tenant_id uuid NOT NULL REFERENCES tenants (id),
  same_rhf          boolean NOT NULL,
  transfer_id       uuid NOT NULL,
  left_on           date NOT NULL,
  PRIMARY KEY (tenant_id, lis_id, earlier_tenant_id),
  FOREIGN KEY (tenant_id, transfer_id) REFERENCES transfers (tenant_id, id),
  CHECK (earlier_tenant_id <> tenant_id)
);

-- How long work in flight at the move (signatures and approvals asked for
-- before it) stays decidable here before it returns to the LIS. No row: 30.
CREATE TABLE transfer_settings (
  tenant_id      uuid PRIMARY KEY REFERENCES tenants (id),
  in_flight_days int NOT NULL CHECK (in_flight_days BETWEEN 0 AND 365)
);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['transfer_batches', 'transfers', 'earlier_workplaces', 'transfer_settings'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = kportal_tenant()) WITH CHECK (tenant_id = kportal_tenant())', t);
  END LOOP;
END
$$;
-- The old workplace sees that the LIS has left, and when (read-only).
CREATE POLICY left_from ON transfers FOR SELECT USING (from_tenant_id = kportal_tenant());
-- The LIS reads their own moves in Min utdanning.
CREATE POLICY own_record ON transfers FOR SELECT USING (kportal_own_record(lis_id));
REVOKE DELETE ON transfers, earlier_workplaces FROM kportal_app;

-- Provenance of what the sync job carried and of what the LIS sent again at
-- the new workplace: the row it came from, never rewritten.
ALTER TABLE goal_progress ADD COLUMN origin_tenant_id uuid REFERENCES tenants (id), ADD COLUMN origin_id uuid,
  ADD CHECK ((origin_tenant_id IS NULL) = (origin_id IS NULL));
ALTER TABLE activities ADD COLUMN origin_tenant_id uuid REFERENCES tenants (id), ADD COLUMN origin_id uuid,
  ADD CHECK ((origin_tenant_id IS NULL) = (origin_id IS NULL));
-- Sent again here at most once.
CREATE UNIQUE INDEX activities_origin ON activities (tenant_id, origin_id) WHERE origin_id IS NOT NULL;

-- The earlier record, read at the new workplace: rows of a tenant the LIS
-- worked at before, per earlier_workplaces of the tenant in force. rhf_only:
-- only when that workplace is in the same RHF (documents). Read-only
-- (permissive SELECT policies OR'ed with tenant_isolation, which alone
-- governs writes). A row of the tenant in force fails the first test, so
-- ordinary reads never evaluate the EXISTS.
CREATE FUNCTION kportal_earlier_record(row_tenant uuid, lis uuid, rhf_only boolean) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT row_tenant <> kportal_tenant() AND EXISTS (SELECT 1 FROM earlier_workplaces e
    WHERE e.tenant_id = kportal_tenant() AND e.lis_id = lis AND e.earlier_tenant_id = row_tenant AND (e.same_rhf OR NOT rhf_only))
$$;

CREATE POLICY earlier_record ON activities FOR SELECT USING (kportal_earlier_record(tenant_id, lis_id, false));
CREATE POLICY earlier_record ON signatures FOR SELECT
  USING (EXISTS (SELECT 1 FROM activities a WHERE a.tenant_id = signatures.tenant_id
    AND a.id = signatures.activity_id AND kportal_earlier_record(a.tenant_id, a.lis_id, false)));
CREATE POLICY earlier_record ON goal_progress FOR SELECT USING (kportal_earlier_record(tenant_id, lis_id, false));
CREATE POLICY earlier_record ON plan_assignments FOR SELECT USING (kportal_earlier_record(tenant_id, lis_id, false));
CREATE POLICY earlier_record ON plan_templates FOR SELECT
  USING (EXISTS (SELECT 1 FROM plan_assignments p WHERE p.tenant_id = plan_templates.tenant_id
    AND p.template_id = plan_templates.id AND kportal_earlier_record(p.tenant_id, p.lis_id, false)));
CREATE POLICY earlier_record ON documents FOR SELECT USING (kportal_earlier_record(tenant_id, person_id, true));
