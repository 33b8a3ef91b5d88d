-- Registration as utdanningsvirksomhet (modules/registrations): a kommune or
-- a private virksomhet describes its specialties, læringsarenaer, goals per
-- arena, veiledning/supervisjon, agreements and contact person, and sends it
-- to Helsedirektoratet, who asks for changes, approves or rejects.
--
-- Row-level security has two permissive policies per table:
--   tenant_isolation  the owning tenant (app.tenant_id) reads and writes its rows;
--   national_review   SELECT only, when the transaction has app.national_review
--                     = 'on', and only rows that are not drafts. kportal sets the
--                     flag (registrations.withReviewTx) only on /hdir routes,
--                     after the route guard checked the hdir platform role.
-- Writes by Helsedirektoratet (a decision) run with the registration's tenant
-- in force, so tenant_isolation's WITH CHECK holds; the review flag alone can
-- change nothing.

-- Whether this transaction reviews registrations across tenants (set with
-- set_config('app.national_review', 'on', true), so it ends with the transaction).
CREATE FUNCTION kportal_national_review() RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT coalesce(current_setting('app.national_review', true), '') = 'on'
$$;

CREATE TABLE registrations (
  tenant_id          uuid NOT NULL REFERENCES tenants (id),
  id                 uuid NOT NULL DEFAULT gen_random_uuid(),
  state              text NOT NULL DEFAULT 'draft'
                     CHECK (state IN ('draft', 'submitted', 'changes_requested', 'approved', 'rejected')),
  specialties        text[] NOT NULL DEFAULT '{}'
                     CHECK (specialties <@ ARRAY['ALM', 'SAM', 'ARB', 'LIS1']::text[]),
  -- [{"name", "description", "lis1_goals": [codes], "other_goals": "as typed"}]
  arenas             jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(arenas) = 'array'),
  supervision        text NOT NULL DEFAULT '',
  partner_agreements text NOT NULL DEFAULT '',
  contact_name       text NOT NULL DEFAULT '',
  contact_email      text NOT NULL DEFAULT '',
  contact_phone      text NOT NULL DEFAULT '',
  -- The registration date: the first submission, kept when resubmitted.
  first_submitted_at timestamptz,
  last_submitted_at  timestamptz,
  decided_at         timestamptz,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  updated_by         uuid REFERENCES people (id),
  PRIMARY KEY (tenant_id, id),
  CHECK (state = 'draft' OR first_submitted_at IS NOT NULL)
);
-- One registration in progress or approved per tenant; after a rejection the
-- tenant may start a new one.
CREATE UNIQUE INDEX registrations_current ON registrations (tenant_id) WHERE state <> 'rejected';
-- Helsedirektoratet's queue reads across tenants, so this index does not lead
-- with tenant_id.
CREATE INDEX registrations_review ON registrations (state, first_submitted_at) WHERE state <> 'draft';
ALTER TABLE registrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE registrations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON registrations
  USING (tenant_id = kportal_tenant())
  WITH CHECK (tenant_id = kportal_tenant());
CREATE POLICY national_review ON registrations FOR SELECT
  USING (kportal_national_review() AND state <> 'draft');

-- The history: every submission, request for changes, approval and rejection.
-- Append-only for the application.
CREATE TABLE registration_events (
  tenant_id       uuid NOT NULL,
  registration_id uuid NOT NULL,
  id              uuid NOT NULL DEFAULT gen_random_uuid(),
  kind            text NOT NULL CHECK (kind IN ('submitted', 'changes_requested', 'approved', 'rejected')),
  from_state      text NOT NULL,
  to_state        text NOT NULL,
  actor_id        uuid REFERENCES people (id),
  actor_name      text NOT NULL,
  actor_role      text NOT NULL CHECK (actor_role IN ('tenant_admin', 'hdir')),
  comment         text NOT NULL DEFAULT '',
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (tenant_id, registration_id, id),
  FOREIGN KEY (tenant_id, registration_id) REFERENCES registrations (tenant_id, id)
);
CREATE INDEX registration_events_order ON registration_events (tenant_id, registration_id, created_at);
ALTER TABLE registration_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE registration_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON registration_events
  USING (tenant_id = kportal_tenant())
  WITH CHECK (tenant_id = kportal_tenant());
-- The subquery is itself filtered by registrations' policies: under the review
-- flag it sees only registrations that are not drafts.
CREATE POLICY national_review ON registration_events FOR SELECT
  USING (kportal_national_review() AND EXISTS (
    SELECT 1 FROM registrations r
    WHERE r.tenant_id = registration_events.tenant_id AND r.id = registration_events.registration_id
      AND r.state <> 'draft'));

-- Registrations are never deleted by the application, and the history is
-- never rewritten.
REVOKE DELETE ON registrations FROM kportal_app;
REVOKE UPDATE, DELETE ON registration_events FROM kportal_app;
