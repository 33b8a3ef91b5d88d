-- Veiledningssamtaler (AdvisorySession): the veileder plans one with a LIS;
-- both write a forberedelse before and a referat after (each their own text,
-- saved as drafts until the veileder completes the samtale, then read-only).
-- Who may read a samtale's text (the LIS, its veileder, the LIS's current
-- veileder) is checked in Go; ledere and UAO read only date and status.

CREATE TABLE advisory_sessions (
  tenant_id    uuid NOT NULL REFERENCES tenants (id),
  id           uuid NOT NULL DEFAULT gen_random_uuid(),
  lis_id       uuid NOT NULL REFERENCES people (id),
  advisor_id   uuid NOT NULL REFERENCES people (id), -- the veileder who planned it
  starts_at    timestamptz NOT NULL,
  place        text NOT NULL DEFAULT '' CHECK (length(place) <= 500), -- a room or a video link
  topics       text NOT NULL DEFAULT '' CHECK (length(topics) <= 4000),
  goal_codes   text[] NOT NULL DEFAULT '{}',
  status       text NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'completed')),
  completed_at timestamptz,
  completed_by uuid REFERENCES people (id),
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  CHECK (lis_id <> advisor_id),
  CHECK ((status = 'completed') = (completed_at IS NOT NULL))
);
CREATE INDEX advisory_sessions_lis ON advisory_sessions (tenant_id, lis_id, starts_at DESC);
CREATE INDEX advisory_sessions_due ON advisory_sessions (tenant_id, starts_at) WHERE status = 'planned';

-- One text per samtale, kind and author: a forberedelse or a referat.
CREATE TABLE advisory_notes (
  tenant_id  uuid NOT NULL,
  session_id uuid NOT NULL,
  kind       text NOT NULL CHECK (kind IN ('preparation', 'minutes')),
  author_id  uuid NOT NULL REFERENCES people (id),
  text       text NOT NULL CHECK (length(text) <= 20000),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, session_id, kind, author_id),
  FOREIGN KEY (tenant_id, session_id) REFERENCES advisory_sessions (tenant_id, id)
);

-- Who has been reminded that a forberedelse is due, so the daily job tells
-- each person once per samtale.
CREATE TABLE advisory_reminders (
  tenant_id   uuid NOT NULL,
  session_id  uuid NOT NULL,
  person_id   uuid NOT NULL REFERENCES people (id),
  reminded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, session_id, person_id),
  FOREIGN KEY (tenant_id, session_id) REFERENCES advisory_sessions (tenant_id, id)
);

-- The tenant's setting: a LIS without a completed samtale in this many
-- months is overdue. No row: 6.
CREATE TABLE advisory_settings (
  tenant_id       uuid PRIMARY KEY REFERENCES tenants (id),
  reminder_months int NOT NULL CHECK (reminder_months BETWEEN 1 AND 24)
);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['advisory_sessions', 'advisory_notes', 'advisory_reminders', 'advisory_settings'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = kportal_tenant()) WITH CHECK (tenant_id = kportal_tenant())', t);
  END LOOP;
END
$$;

-- Changing workplace within the same RHF (DOMAIN.md): the LIS and the LIS's
-- veileder in the tenant in force read the LIS's samtaler held in another
-- helseforetak of the same RHF. Read-only, and decided wholly here: the
-- person in force must be the LIS, or hold the veileder relation to the LIS in
-- the tenant in force, and both tenants must name the same RHF. Kommuner
-- (no RHF) never match.
CREATE FUNCTION kportal_advisory_history(session_tenant uuid, lis uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT kportal_person() IS NOT NULL AND session_tenant <> kportal_tenant()
    AND EXISTS (SELECT 1 FROM tenants a JOIN tenants b ON b.rhf_code = a.rhf_code
                WHERE a.id = session_tenant AND b.id = kportal_tenant() AND a.rhf_code IS NOT NULL)
    AND (lis = kportal_person() OR EXISTS (
      SELECT 1 FROM relations r WHERE r.tenant_id = kportal_tenant() AND r.lis_id = lis
        AND r.kind = 'veileder' AND r.person_id = kportal_person()))
$$;

CREATE POLICY same_rhf_history ON advisory_sessions FOR SELECT
  USING (kportal_advisory_history(tenant_id, lis_id));
CREATE POLICY same_rhf_history ON advisory_notes FOR SELECT
  USING (EXISTS (SELECT 1 FROM advisory_sessions s WHERE s.tenant_id = advisory_notes.tenant_id
    AND s.id = advisory_notes.session_id AND kportal_advisory_history(s.tenant_id, s.lis_id)));

-- Reminders are history: never rewritten.
REVOKE UPDATE, DELETE ON advisory_reminders FROM kportal_app;
REVOKE DELETE ON advisory_sessions, advisory_notes FROM kportal_app;
