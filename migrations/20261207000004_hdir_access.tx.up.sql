-- Helsedirektoratet's read access to a LIS's record, and the access log.
--
-- Hdir reads a record through the same own_record policies as the LIS
-- (tenants.RecordTx puts the LIS in force, read-only); nothing here widens a
-- read. What is new is the log of those reads, and where an HPR number came
-- from.

-- Where each HPR number came from: typed by a tenant administrator, or from
-- HelseID (once kportal has a HelseID client). A typed number never replaces
-- or removes one from HelseID: only a transaction that says it writes what
-- HelseID gave (app.helseid = 'on', set by the sign-in) writes a HelseID
-- number or changes one. The roles module says so in the form first.
ALTER TABLE people ADD COLUMN hpr_source text CHECK (hpr_source IN ('typed', 'helseid'));
UPDATE people SET hpr_source = 'typed' WHERE hpr_number IS NOT NULL;

CREATE FUNCTION kportal_hpr_source() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  helseid boolean := coalesce(current_setting('app.helseid', true), '') = 'on';
  was_helseid boolean := TG_OP = 'UPDATE' AND OLD.hpr_source IS NOT DISTINCT FROM 'helseid';
BEGIN
  IF NOT helseid AND ((was_helseid AND (NEW.hpr_number IS DISTINCT FROM OLD.hpr_number OR NEW.hpr_source IS DISTINCT FROM OLD.hpr_source))
      OR (NEW.hpr_source = 'helseid' AND NOT was_helseid)) THEN
    RAISE EXCEPTION 'an HPR number from HelseID is written and changed only from HelseID'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'people_hpr_helseid';
  END IF;
  -- A number written without a source was typed (imports, tests, seeds).
  IF NEW.hpr_number IS NULL THEN
    NEW.hpr_source := NULL;
  ELSIF NEW.hpr_source IS NULL THEN
    NEW.hpr_source := 'typed';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER people_hpr_source BEFORE INSERT OR UPDATE OF hpr_number, hpr_source ON people
  FOR EACH ROW EXECUTE FUNCTION kportal_hpr_source();

-- One national log of every read of a LIS's record by someone else (the Hdir
-- page now; the API later). Not tenant-scoped: a record spans tenants.
CREATE TABLE access_log (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  subject_id  uuid NOT NULL REFERENCES people (id),
  reader_id   uuid REFERENCES people (id),
  api_key_id  uuid, -- no reference: the API keys live in the API's own migration
  reader_name text NOT NULL CHECK (length(reader_name) BETWEEN 1 AND 200),
  reader_org  text NOT NULL CHECK (length(reader_org) BETWEEN 1 AND 200),
  case_number text NOT NULL CHECK (case_number ~ '^[0-9A-Za-z/-]{4,20}$'),
  what        text NOT NULL CHECK (length(what) BETWEEN 1 AND 200),
  at          timestamptz NOT NULL DEFAULT now(),
  CHECK ((reader_id IS NULL) <> (api_key_id IS NULL))
);
CREATE INDEX access_log_subject ON access_log (subject_id, at DESC);
ALTER TABLE access_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE access_log FORCE ROW LEVEL SECURITY;

-- The LIS reads the rows about themselves; not inside a record transaction,
-- where the person in force is the LIS whose record someone else may read.
CREATE POLICY subject_reads ON access_log FOR SELECT
  USING (subject_id = kportal_person() AND coalesce(current_setting('app.own_record', true), '') <> 'on');
-- A reader writes only through accesslog.Record (app.access_log, set for the
-- one INSERT), only as the person in force, or as an API key with no person.
CREATE POLICY reader_writes ON access_log FOR INSERT
  WITH CHECK (coalesce(current_setting('app.access_log', true), '') = 'on'
    AND (reader_id = kportal_person() OR (reader_id IS NULL AND kportal_person() IS NULL)));
-- Nobody changes or removes what was read.
REVOKE UPDATE, DELETE, TRUNCATE ON access_log FROM kportal_app;
