DROP POLICY invitation_link ON invitations;
DROP POLICY tenant_isolation ON invitations;
CREATE POLICY tenant_isolation ON invitations
  USING (tenant_id = kportal_tenant() OR token_hash = kportal_invitation_token())
  WITH CHECK (tenant_id = kportal_tenant());
DROP POLICY own_memberships ON memberships;
DROP POLICY tenant_isolation ON memberships;
CREATE POLICY tenant_isolation ON memberships
  USING (tenant_id = kportal_tenant() OR person_id = kportal_person())
  WITH CHECK (tenant_id = kportal_tenant());
