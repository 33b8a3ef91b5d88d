-- Role assignments reach Casbin from the tables that own them, in the same
-- transaction: a membership is the g-rule (person, role, tenant); an open
-- delegation makes the delegate a goal_approver in the tenant (which LIS and
-- until when is tenants.MayApprove's business). casbin_rules' own trigger
-- then tells every instance to reload.

CREATE FUNCTION memberships_to_casbin() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    DELETE FROM casbin_rules WHERE ptype = 'g' AND v0 = OLD.person_id::text AND v1 = OLD.role AND v2 = OLD.tenant_id::text;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO casbin_rules (ptype, v0, v1, v2) VALUES ('g', NEW.person_id::text, NEW.role, NEW.tenant_id::text)
    ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER memberships_casbin AFTER INSERT OR UPDATE OR DELETE ON memberships
  FOR EACH ROW EXECUTE FUNCTION memberships_to_casbin();

CREATE FUNCTION delegations_to_casbin() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
  IF EXISTS (SELECT 1 FROM delegations d WHERE d.tenant_id = r.tenant_id AND d.delegate_id = r.delegate_id AND d.revoked_at IS NULL) THEN
    INSERT INTO casbin_rules (ptype, v0, v1, v2) VALUES ('g', r.delegate_id::text, 'goal_approver', r.tenant_id::text)
    ON CONFLICT DO NOTHING;
  ELSE
    DELETE FROM casbin_rules WHERE ptype = 'g' AND v0 = r.delegate_id::text AND v1 = 'goal_approver' AND v2 = r.tenant_id::text;
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER delegations_casbin AFTER INSERT OR UPDATE OR DELETE ON delegations
  FOR EACH ROW EXECUTE FUNCTION delegations_to_casbin();

-- What exists already. The owner is bound by forced row-level security too,
-- so lift it for this transaction only.
ALTER TABLE memberships NO FORCE ROW LEVEL SECURITY;
ALTER TABLE delegations NO FORCE ROW LEVEL SECURITY;
INSERT INTO casbin_rules (ptype, v0, v1, v2)
  SELECT 'g', person_id::text, role, tenant_id::text FROM memberships
  UNION
  SELECT 'g', delegate_id::text, 'goal_approver', tenant_id::text FROM delegations WHERE revoked_at IS NULL
ON CONFLICT DO NOTHING;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
ALTER TABLE delegations FORCE ROW LEVEL SECURITY;
