-- People and their relations to each other in a tenant.

-- The helsepersonellnummer lives here, not in Kratos' editable traits.
ALTER TABLE people ADD COLUMN hpr_number text UNIQUE CHECK (hpr_number ~ '^[0-9]{6,9}$');

-- A LIS's leder, veileder (at most one of each per tenant) and supervisors.
CREATE TABLE relations (
  tenant_id  uuid NOT NULL REFERENCES tenants (id),
  lis_id     uuid NOT NULL REFERENCES people (id),
  kind       text NOT NULL CHECK (kind IN ('leder', 'veileder', 'supervisor')),
  person_id  uuid NOT NULL REFERENCES people (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, lis_id, kind, person_id),
  CHECK (lis_id <> person_id)
);
CREATE UNIQUE INDEX relations_one_leder_one_veileder ON relations (tenant_id, lis_id, kind) WHERE kind IN ('leder', 'veileder');
CREATE INDEX relations_person ON relations (tenant_id, person_id, kind);
ALTER TABLE relations ENABLE ROW LEVEL SECURITY;
ALTER TABLE relations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON relations
  USING (tenant_id = kportal_tenant()) WITH CHECK (tenant_id = kportal_tenant());
-- A person reads their own relations in every tenant ("Mine roller og relasjoner").
CREATE POLICY own_relations ON relations FOR SELECT
  USING (lis_id = kportal_person() OR person_id = kportal_person());

-- Specialties a LIS trains in, and those a UAO follows, per tenant.
CREATE TABLE person_specialties (
  tenant_id  uuid NOT NULL REFERENCES tenants (id),
  person_id  uuid NOT NULL REFERENCES people (id),
  role       text NOT NULL CHECK (role IN ('lis', 'uao')),
  specialty  text NOT NULL CHECK (specialty ~ '^[A-ZÆØÅ0-9]{2,6}$'),
  PRIMARY KEY (tenant_id, person_id, role, specialty)
);
CREATE INDEX person_specialties_specialty ON person_specialties (tenant_id, specialty, role);
ALTER TABLE person_specialties ENABLE ROW LEVEL SECURITY;
ALTER TABLE person_specialties FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON person_specialties
  USING (tenant_id = kportal_tenant()) WITH CHECK (tenant_id = kportal_tenant());

-- An invitation a LIS sends to their leder, veileder or a supervisor names
-- the LIS: accepting it creates the relation.
ALTER TABLE invitations ADD COLUMN lis_id uuid REFERENCES people (id),
  ADD CONSTRAINT invitations_relation_role CHECK (lis_id IS NULL OR role IN ('leder', 'veileder', 'supervisor'));
CREATE INDEX invitations_lis ON invitations (tenant_id, lis_id, role) WHERE lis_id IS NOT NULL;

-- A leder lets named colleagues approve læringsmål for the leder's LIS.
CREATE TABLE delegations (
  tenant_id     uuid NOT NULL REFERENCES tenants (id),
  id            uuid NOT NULL DEFAULT gen_random_uuid(),
  leder_id      uuid NOT NULL REFERENCES people (id),
  delegate_id   uuid NOT NULL REFERENCES people (id),
  valid_until   date,
  reason        text NOT NULL DEFAULT '',
  created_at    timestamptz NOT NULL DEFAULT now(),
  revoked_at    timestamptz,
  revoked_by    uuid REFERENCES people (id),
  revoke_reason text NOT NULL DEFAULT '',
  PRIMARY KEY (tenant_id, id),
  CHECK (leder_id <> delegate_id)
);
CREATE UNIQUE INDEX delegations_one_open ON delegations (tenant_id, leder_id, delegate_id) WHERE revoked_at IS NULL;
CREATE INDEX delegations_delegate ON delegations (tenant_id, delegate_id) WHERE revoked_at IS NULL;
ALTER TABLE delegations ENABLE ROW LEVEL SECURITY;
ALTER TABLE delegations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON delegations
  USING (tenant_id = kportal_tenant()) WITH CHECK (tenant_id = kportal_tenant());

-- Security-relevant events, append-only: the application may add and read,
-- never change or remove.
CREATE TABLE audit_log (
  tenant_id    uuid NOT NULL REFERENCES tenants (id),
  id           bigint GENERATED ALWAYS AS IDENTITY,
  at           timestamptz NOT NULL DEFAULT now(),
  actor_id     uuid REFERENCES people (id),
  actor_name   text NOT NULL DEFAULT '',
  action       text NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
  subject_id   uuid REFERENCES people (id),
  subject_name text NOT NULL DEFAULT '',
  details      text NOT NULL DEFAULT '',
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_log_at ON audit_log (tenant_id, at DESC);
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log
  USING (tenant_id = kportal_tenant()) WITH CHECK (tenant_id = kportal_tenant());
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM kportal_app;
