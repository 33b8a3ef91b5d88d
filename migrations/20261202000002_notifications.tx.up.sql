-- Notifications (modules/notifications, the relay in workers/): what each
-- person was told about each outbox event, their channel choices, and which
-- weekly summaries went out.

-- The relay moves pending events of every tenant to asynq. It finds them
-- through one read-only policy that applies only when the transaction sets
-- app.outbox_relay = 'on' and only to rows not yet relayed; marking them
-- relayed runs with each event's own tenant in force, through tenant_isolation,
-- and the application may change no column of the outbox but delivered_at.
CREATE FUNCTION kportal_outbox_relay() RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT coalesce(current_setting('app.outbox_relay', true), '') = 'on'
$$;
CREATE POLICY outbox_relay ON outbox FOR SELECT
  USING (kportal_outbox_relay() AND delivered_at IS NULL);
REVOKE UPDATE ON outbox FROM kportal_app;
GRANT UPDATE (delivered_at) ON outbox TO kportal_app;

-- One row per (event, recipient): the notice on the home page, the immediate
-- e-mail and the event's place in a weekly summary. The channels wanted are
-- fixed when the event is delivered (the person's settings then); the
-- timestamps say what was done, so a retried job never does it twice.
CREATE TABLE deliveries (
  tenant_id     uuid NOT NULL REFERENCES tenants (id),
  event_id      bigint NOT NULL,
  recipient_id  uuid NOT NULL REFERENCES people (id),
  type          text NOT NULL,
  title         text NOT NULL,
  link          text NOT NULL, -- a path in kportal, e.g. /t/helse-bergen/signering
  created_at    timestamptz NOT NULL,
  home          boolean NOT NULL,
  read_at       timestamptz,
  email         boolean NOT NULL,
  email_sent_at timestamptz,
  digest        boolean NOT NULL,
  digest_week   text CHECK (digest_week ~ '^[0-9]{4}-W[0-9]{2}$'), -- the ISO week of the summary that took it
  PRIMARY KEY (tenant_id, event_id, recipient_id),
  FOREIGN KEY (tenant_id, event_id) REFERENCES outbox (tenant_id, id)
);
CREATE INDEX deliveries_home ON deliveries (tenant_id, recipient_id, created_at DESC) WHERE home;
CREATE INDEX deliveries_digest ON deliveries (tenant_id, digest_week, recipient_id) WHERE digest;
ALTER TABLE deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON deliveries USING (tenant_id = kportal_tenant()) WITH CHECK (tenant_id = kportal_tenant());
-- A person reads their own deliveries in every tenant (as their own
-- memberships): the weekly summary is one e-mail across tenants. Read-only.
CREATE POLICY own_deliveries ON deliveries FOR SELECT USING (recipient_id = kportal_person());
CREATE INDEX deliveries_own_digest ON deliveries (recipient_id, digest_week) WHERE digest;
REVOKE DELETE ON deliveries FROM kportal_app;

-- A person's channel choices per type, where they differ from the type's
-- defaults. A person's own, in every tenant: only the person (app.person_id)
-- reads or writes them.
CREATE TABLE notification_settings (
  person_id  uuid NOT NULL REFERENCES people (id),
  type       text NOT NULL CHECK (type ~ '^[a-z_]+\.[a-z_]+$'),
  email      boolean NOT NULL,
  digest     boolean NOT NULL,
  home       boolean NOT NULL,
  changed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (person_id, type)
);
ALTER TABLE notification_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE notification_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY own_settings ON notification_settings
  USING (person_id = kportal_person()) WITH CHECK (person_id = kportal_person());

-- The weekly summaries sent: one per person and ISO week, so a retried or
-- doubled run sends none twice.
CREATE TABLE digests (
  person_id uuid NOT NULL REFERENCES people (id),
  week      text NOT NULL CHECK (week ~ '^[0-9]{4}-W[0-9]{2}$'),
  items     integer NOT NULL DEFAULT 0,
  sent_at   timestamptz,
  PRIMARY KEY (person_id, week)
);
ALTER TABLE digests ENABLE ROW LEVEL SECURITY;
ALTER TABLE digests FORCE ROW LEVEL SECURITY;
CREATE POLICY own_digests ON digests
  USING (person_id = kportal_person()) WITH CHECK (person_id = kportal_person());
REVOKE DELETE ON digests FROM kportal_app;
