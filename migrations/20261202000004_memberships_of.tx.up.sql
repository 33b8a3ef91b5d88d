-- The session middleware reads the person's memberships on every request.
-- As a transaction that was four round trips (BEGIN, set_config, SELECT,
-- COMMIT); this function is one: it puts the person in force, reads under the
-- same row-level security (own_memberships), and puts back what was in force
-- before, so called inside another transaction it changes nothing there.
-- It runs as the caller (not SECURITY DEFINER): no more reach than the
-- set_config the application could make itself.
CREATE FUNCTION kportal_memberships_of(person uuid) RETURNS TABLE (tenant_id uuid, roles text[])
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  before text := current_setting('app.person_id', true);
BEGIN
  PERFORM set_config('app.person_id', person::text, true);
  RETURN QUERY SELECT m.tenant_id, array_agg(m.role ORDER BY m.role)
    FROM memberships m WHERE m.person_id = person GROUP BY m.tenant_id;
  PERFORM set_config('app.person_id', coalesce(before, ''), true);
END
$$;
