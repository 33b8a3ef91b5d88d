-- The LIS's own national history (Min utdanning): a person reads their own
-- record in every tenant they have ever belonged to, also after a workplace
-- removed their role. Visible by policy, not copied, so provenance (where,
-- who signed, who approved) stays exactly as written.
--
-- Applies only when the transaction says so (tenants.OwnRecordTx sets
-- app.own_record = 'on' and the signed-in person, and no tenant), so no
-- ordinary page reads beyond its tenant by accident. Read-only: permissive
-- SELECT policies, OR'ed with tenant_isolation, which alone governs writes.
CREATE FUNCTION kportal_own_record(lis uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT current_setting('app.own_record', true) = 'on' AND lis = kportal_person()
$$;

CREATE POLICY own_record ON plan_assignments FOR SELECT USING (kportal_own_record(lis_id));
CREATE POLICY own_record ON activities FOR SELECT USING (kportal_own_record(lis_id));
CREATE POLICY own_record ON goal_progress FOR SELECT USING (kportal_own_record(lis_id));
CREATE POLICY own_record ON advisory_sessions FOR SELECT USING (kportal_own_record(lis_id));
CREATE POLICY own_record ON documents FOR SELECT USING (kportal_own_record(person_id));
CREATE POLICY own_record ON signatures FOR SELECT
  USING (EXISTS (SELECT 1 FROM activities a WHERE a.tenant_id = signatures.tenant_id
    AND a.id = signatures.activity_id AND kportal_own_record(a.lis_id)));
CREATE POLICY own_record ON advisory_notes FOR SELECT
  USING (EXISTS (SELECT 1 FROM advisory_sessions s WHERE s.tenant_id = advisory_notes.tenant_id
    AND s.id = advisory_notes.session_id AND kportal_own_record(s.lis_id)));
-- A plan's name: only templates the LIS has (had) an assignment of.
CREATE POLICY own_record ON plan_templates FOR SELECT
  USING (EXISTS (SELECT 1 FROM plan_assignments p WHERE p.tenant_id = plan_templates.tenant_id
    AND p.template_id = plan_templates.id AND kportal_own_record(p.lis_id)));

-- Every index on these tables leads with tenant_id; the history reads one
-- person across tenants, which without these is a sequential scan (10 million
-- activities in the national data set).
CREATE INDEX plan_assignments_own ON plan_assignments (lis_id);
CREATE INDEX activities_own ON activities (lis_id);
CREATE INDEX goal_progress_own ON goal_progress (lis_id) WHERE status = 'approved';
CREATE INDEX advisory_sessions_own ON advisory_sessions (lis_id);
CREATE INDEX documents_own ON documents (person_id);
