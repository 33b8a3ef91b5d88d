-- The learning core: the national catalogue (Helsedirektoratet's, the same
-- for every tenant), and per tenant: læringsarenaer, plan templates, plans
-- assigned to LIS, activities and their signatures, goals and their approval,
-- and the outbox of events for notifications.

-- ---- National catalogue (global: no tenant_id) ----------------------------

CREATE TABLE specialties (
  code      text PRIMARY KEY CHECK (code ~ '^[A-ZÆØÅ0-9]{2,6}$'),
  name      text NOT NULL,
  structure text NOT NULL DEFAULT '', -- e.g. "del 1 → del 3", "del 2 (FIM)"
  del2_plan text NOT NULL DEFAULT ''
);

-- A catalogue version: a draft until published. A LIS's plan is pinned to one.
CREATE TABLE catalog_versions (
  id           serial PRIMARY KEY,
  label        text NOT NULL UNIQUE,
  note         text NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL DEFAULT now(),
  created_by   uuid REFERENCES people (id),
  published_at timestamptz
);

-- Læringsmål of one version. text is NULL where the official text is not
-- loaded yet (the UI then shows the code and says so; never an invented text).
-- stricter compares with the previous published version: NULL for a new goal
-- or an unchanged one, true/false for a changed one.
CREATE TABLE goals (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  version_id        int NOT NULL REFERENCES catalog_versions (id),
  code              text NOT NULL CHECK (code ~ '^[A-ZÆØÅ0-9]+(-[A-ZÆØÅ0-9]+)*$'),
  text              text,
  plan              text NOT NULL,           -- KLS, KLP, KLK, FKM, or a specialty code
  part              text NOT NULL DEFAULT '', -- del1, del2, del3
  competence_area   text NOT NULL DEFAULT '',
  valid_from        date,
  valid_to          date,
  changed           boolean NOT NULL DEFAULT false,
  stricter          boolean,
  UNIQUE (version_id, code)
);
CREATE INDEX goals_plan ON goals (version_id, plan);

-- National procedures with recommended minimum counts, the same in every tenant.
CREATE TABLE national_procedures (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  version_id            int NOT NULL REFERENCES catalog_versions (id),
  specialty             text NOT NULL,
  number                text NOT NULL DEFAULT '',
  name                  text NOT NULL,
  assisted              int NOT NULL DEFAULT 0 CHECK (assisted >= 0),
  performed             int NOT NULL DEFAULT 0 CHECK (performed >= 0),
  assisted_or_performed int NOT NULL DEFAULT 0 CHECK (assisted_or_performed >= 0),
  comment               text NOT NULL DEFAULT '',
  source                text NOT NULL DEFAULT '',
  UNIQUE (version_id, specialty, name)
);

-- Recommended activities (courses, e-learning, …) of a specialty.
CREATE TABLE recommended_activities (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  version_id int NOT NULL REFERENCES catalog_versions (id),
  specialty  text NOT NULL,
  kind       text NOT NULL CHECK (kind IN ('course', 'elearning', 'other')),
  name       text NOT NULL,
  timing     text NOT NULL DEFAULT '',
  source     text NOT NULL DEFAULT '',
  UNIQUE (version_id, specialty, kind, name)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON specialties, catalog_versions, goals, national_procedures, recommended_activities TO kportal_app;
GRANT USAGE, SELECT ON SEQUENCE catalog_versions_id_seq TO kportal_app;

-- ---- Per tenant ---------------------------------------------------------------
-- Every table: tenant_id leading the key, RLS enabled and forced, one policy.

CREATE TABLE arenas (
  tenant_id   uuid NOT NULL REFERENCES tenants (id),
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description text NOT NULL DEFAULT '',
  archived_at timestamptz,
  PRIMARY KEY (tenant_id, id)
);

-- A plan template: catalogue goals (of one version) plus local activities.
CREATE TABLE plan_templates (
  tenant_id   uuid NOT NULL REFERENCES tenants (id),
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  specialty   text NOT NULL, -- a specialty code, or LIS1
  version_id  int NOT NULL REFERENCES catalog_versions (id),
  auto_assign boolean NOT NULL DEFAULT false, -- kommune LIS1: assigned when a LIS joins
  created_at  timestamptz NOT NULL DEFAULT now(),
  archived_at timestamptz,
  PRIMARY KEY (tenant_id, id)
);

-- The goals of a template, each reachable at some arenas.
CREATE TABLE plan_template_goals (
  tenant_id   uuid NOT NULL,
  template_id uuid NOT NULL,
  goal_code   text NOT NULL,
  arena_ids   uuid[] NOT NULL DEFAULT '{}',
  PRIMARY KEY (tenant_id, template_id, goal_code),
  FOREIGN KEY (tenant_id, template_id) REFERENCES plan_templates (tenant_id, id)
);

-- Local (or regional) activities a tenant adds to a template.
CREATE TABLE local_activities (
  tenant_id   uuid NOT NULL,
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  template_id uuid NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('procedure', 'course', 'elearning', 'veiledning', 'supervisjon', 'service', 'simulation', 'selfstudy', 'other')),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  arena_id    uuid,
  goal_codes  text[] NOT NULL DEFAULT '{}',
  required    int NOT NULL DEFAULT 0 CHECK (required >= 0),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, template_id) REFERENCES plan_templates (tenant_id, id)
);

-- A plan assigned to a LIS. Archived plans are never re-activated: a new
-- workplace assigns its own.
CREATE TABLE plan_assignments (
  tenant_id   uuid NOT NULL REFERENCES tenants (id),
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  lis_id      uuid NOT NULL REFERENCES people (id),
  template_id uuid NOT NULL,
  version_id  int NOT NULL REFERENCES catalog_versions (id),
  assigned_by uuid REFERENCES people (id),
  assigned_at timestamptz NOT NULL DEFAULT now(),
  archived_at timestamptz,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, template_id) REFERENCES plan_templates (tenant_id, id)
);
CREATE UNIQUE INDEX plan_assignments_one_active ON plan_assignments (tenant_id, lis_id, template_id) WHERE archived_at IS NULL;
CREATE INDEX plan_assignments_lis ON plan_assignments (tenant_id, lis_id);

-- A læringsaktivitet a LIS registered. A procedure row counts repetitions
-- (count) done in one role (assisted or performed). status: registered (no
-- signature needed), requested (waiting for the supervisor), signed,
-- rejected, withdrawn.
CREATE TABLE activities (
  tenant_id        uuid NOT NULL REFERENCES tenants (id),
  id               uuid NOT NULL DEFAULT gen_random_uuid(),
  lis_id           uuid NOT NULL REFERENCES people (id),
  assignment_id    uuid,
  kind             text NOT NULL CHECK (kind IN ('procedure', 'course', 'elearning', 'veiledning', 'supervisjon', 'service', 'simulation', 'selfstudy', 'other')),
  title            text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
  procedure_id     uuid REFERENCES national_procedures (id),
  local_id         uuid,
  procedure_role   text CHECK (procedure_role IN ('assisted', 'performed')),
  count            int NOT NULL DEFAULT 1 CHECK (count BETWEEN 1 AND 1000),
  done_on          date NOT NULL,
  arena_id         uuid,
  goal_codes       text[] NOT NULL DEFAULT '{}',
  comment          text NOT NULL DEFAULT '',
  document_id      uuid, -- kursbevis (the documents issue)
  status           text NOT NULL DEFAULT 'registered' CHECK (status IN ('registered', 'requested', 'signed', 'rejected', 'withdrawn')),
  supervisor_id    uuid REFERENCES people (id),
  requested_at     timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, assignment_id) REFERENCES plan_assignments (tenant_id, id),
  CHECK ((kind = 'procedure') = (procedure_role IS NOT NULL)),
  CHECK (status <> 'requested' OR supervisor_id IS NOT NULL)
);
CREATE INDEX activities_lis ON activities (tenant_id, lis_id, done_on DESC);
CREATE INDEX activities_queue ON activities (tenant_id, supervisor_id, requested_at) WHERE status = 'requested';
CREATE INDEX activities_goals ON activities USING gin (goal_codes);

-- A supervisor's decision on an activity, with what exactly was decided on.
CREATE TABLE signatures (
  tenant_id     uuid NOT NULL REFERENCES tenants (id),
  id            uuid NOT NULL DEFAULT gen_random_uuid(),
  activity_id   uuid NOT NULL,
  supervisor_id uuid NOT NULL REFERENCES people (id),
  decision      text NOT NULL CHECK (decision IN ('signed', 'rejected')),
  comment       text NOT NULL DEFAULT '',
  signed_at     timestamptz NOT NULL DEFAULT now(),
  snapshot      jsonb NOT NULL, -- the activity as signed
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, activity_id) REFERENCES activities (tenant_id, id)
);
CREATE INDEX signatures_activity ON signatures (tenant_id, activity_id);

CREATE TABLE procedure_favourites (
  tenant_id    uuid NOT NULL REFERENCES tenants (id),
  lis_id       uuid NOT NULL REFERENCES people (id),
  procedure_id uuid NOT NULL REFERENCES national_procedures (id),
  PRIMARY KEY (tenant_id, lis_id, procedure_id)
);

-- A LIS's progress on one læringsmål. status: open, sent (waiting for the
-- leder or a delegate), approved, rejected, returned. prior_learning marks
-- etterregistrering (goals achieved earlier, e.g. abroad). At approval the
-- basis (activities, signatures, inputs) is frozen in basis.
CREATE TABLE goal_progress (
  tenant_id      uuid NOT NULL REFERENCES tenants (id),
  id             uuid NOT NULL DEFAULT gen_random_uuid(),
  lis_id         uuid NOT NULL REFERENCES people (id),
  assignment_id  uuid,
  goal_code      text NOT NULL,
  version_id     int NOT NULL REFERENCES catalog_versions (id),
  status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'sent', 'approved', 'rejected', 'returned')),
  prior_learning boolean NOT NULL DEFAULT false,
  completed_on   date,
  comment        text NOT NULL DEFAULT '',
  document_id    uuid,
  sent_to        uuid REFERENCES people (id),
  sent_at        timestamptz,
  decided_by     uuid REFERENCES people (id),
  decided_at     timestamptz,
  decision_note  text NOT NULL DEFAULT '',
  basis          jsonb,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, assignment_id) REFERENCES plan_assignments (tenant_id, id)
);
CREATE UNIQUE INDEX goal_progress_one ON goal_progress (tenant_id, lis_id, goal_code, prior_learning);
CREATE INDEX goal_progress_queue ON goal_progress (tenant_id, sent_to) WHERE status = 'sent';

-- Input on a goal from the veileder and supervisors, asked for in the app.
CREATE TABLE goal_inputs (
  tenant_id    uuid NOT NULL REFERENCES tenants (id),
  id           uuid NOT NULL DEFAULT gen_random_uuid(),
  progress_id  uuid NOT NULL,
  person_id    uuid NOT NULL REFERENCES people (id),
  kind         text NOT NULL CHECK (kind IN ('veileder', 'supervisor')),
  requested_at timestamptz NOT NULL DEFAULT now(),
  answered_at  timestamptz,
  text         text NOT NULL DEFAULT '',
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, progress_id) REFERENCES goal_progress (tenant_id, id)
);

-- A person's remembered choices in a tenant (e.g. the læringsarena filter).
CREATE TABLE preferences (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  person_id uuid NOT NULL REFERENCES people (id),
  key       text NOT NULL CHECK (key ~ '^[a-z_.]+$'),
  value     text NOT NULL,
  PRIMARY KEY (tenant_id, person_id, key)
);

-- Events to notify someone of, written in the transaction of the change; the
-- notifications issue delivers them.
CREATE TABLE outbox (
  tenant_id    uuid NOT NULL REFERENCES tenants (id),
  id           bigint GENERATED ALWAYS AS IDENTITY,
  at           timestamptz NOT NULL DEFAULT now(),
  topic        text NOT NULL CHECK (topic ~ '^[a-z_]+\.[a-z_]+$'),
  recipient_id uuid REFERENCES people (id),
  payload      jsonb NOT NULL DEFAULT '{}',
  delivered_at timestamptz,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX outbox_pending ON outbox (at) WHERE delivered_at IS NULL;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['arenas', 'plan_templates', 'plan_template_goals', 'local_activities', 'plan_assignments',
    'activities', 'signatures', 'procedure_favourites', 'goal_progress', 'goal_inputs', 'preferences', 'outbox'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = kportal_tenant()) WITH CHECK (tenant_id = kportal_tenant())', t);
  END LOOP;
END
$$;
-- Signatures and the outbox's history are not rewritten by kportal.
REVOKE UPDATE, DELETE ON signatures FROM kportal_app;
REVOKE DELETE ON outbox FROM kportal_app;
