-- Casbin's policy (policies.Adapter): one row per rule, global (no tenant_id,
-- so no row-level security): the domain is in the rule itself.
--   p <role> * <object> <action>      permission rules, written by the modules
--   g <person> <role> <tenant id>     a role assigned to a person in one tenant
-- Unused trailing fields are ''.
CREATE TABLE casbin_rules (
  id    bigserial PRIMARY KEY,
  ptype text NOT NULL,
  v0    text NOT NULL DEFAULT '',
  v1    text NOT NULL DEFAULT '',
  v2    text NOT NULL DEFAULT '',
  v3    text NOT NULL DEFAULT '',
  v4    text NOT NULL DEFAULT '',
  v5    text NOT NULL DEFAULT '',
  CONSTRAINT casbin_rules_rule_key UNIQUE (ptype, v0, v1, v2, v3, v4, v5)
);

-- kportal adds and removes rules; it never updates them.
REVOKE ALL ON casbin_rules FROM kportal_app;
GRANT SELECT, INSERT, DELETE ON casbin_rules TO kportal_app;
GRANT USAGE, SELECT ON SEQUENCE casbin_rules_id_seq TO kportal_app;

-- Every change tells every instance (policies.Watcher LISTENs on
-- kportal_policy) to reload. Row-level, so a statement that changes nothing
-- (an insert that conflicts) stays silent; PostgreSQL sends equal
-- notifications of one transaction once, at commit.
CREATE FUNCTION casbin_rules_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('kportal_policy', lower(TG_OP));
  RETURN NULL;
END
$$;

CREATE TRIGGER casbin_rules_changed
  AFTER INSERT OR UPDATE OR DELETE ON casbin_rules
  FOR EACH ROW EXECUTE FUNCTION casbin_rules_notify();
CREATE TRIGGER casbin_rules_truncated
  AFTER TRUNCATE ON casbin_rules
  FOR EACH STATEMENT EXECUTE FUNCTION casbin_rules_notify();
