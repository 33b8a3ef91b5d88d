-- Every policy that lets a transaction reach rows beyond its tenant is
-- read-only: a person reads their own memberships in every tenant, and an
-- invitation link's token reads that one invitation, but neither can change
-- or delete those rows (WITH CHECK alone does not cover DELETE).
DROP POLICY tenant_isolation ON memberships;
CREATE POLICY tenant_isolation ON memberships
  USING (tenant_id = kportal_tenant()) WITH CHECK (tenant_id = kportal_tenant());
CREATE POLICY own_memberships ON memberships FOR SELECT
  USING (person_id = kportal_person());

DROP POLICY tenant_isolation ON invitations;
CREATE POLICY tenant_isolation ON invitations
  USING (tenant_id = kportal_tenant()) WITH CHECK (tenant_id = kportal_tenant());
CREATE POLICY invitation_link ON invitations FOR SELECT
  USING (token_hash = kportal_invitation_token());
