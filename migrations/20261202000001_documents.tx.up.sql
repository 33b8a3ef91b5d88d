-- Documents (kursbevis and the dokumentarkiv): the files live in MinIO under
-- tenants/<tenant-id>/people/<person-id>/<id>; a row here exists only once its
-- object is stored.

CREATE TABLE documents (
  tenant_id    uuid NOT NULL REFERENCES tenants (id),
  id           uuid NOT NULL,
  person_id    uuid NOT NULL REFERENCES people (id), -- the owner (a LIS)
  kind         text NOT NULL CHECK (kind IN ('kursbevis', 'other')),
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200), -- cleaned, for display only
  content_type text NOT NULL CHECK (content_type IN ('application/pdf', 'image/png', 'image/jpeg', 'image/heic')),
  size         bigint NOT NULL CHECK (size > 0),
  object_key   text NOT NULL UNIQUE,
  uploaded_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  CHECK (object_key = 'tenants/' || tenant_id || '/people/' || person_id || '/' || id)
);
CREATE INDEX documents_person ON documents (tenant_id, person_id, uploaded_at DESC);

-- Objects that may exist without a row: an upload between its object and its
-- row, or a deletion between its row and its object. Written before the object
-- is touched; the cleanup job removes the object of an entry older than a day.
CREATE TABLE document_objects_pending (
  tenant_id  uuid NOT NULL REFERENCES tenants (id),
  object_key text NOT NULL,
  since      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, object_key)
);

-- A tenant's largest upload; without a row 25 MB.
CREATE TABLE document_settings (
  tenant_id uuid PRIMARY KEY REFERENCES tenants (id),
  max_bytes bigint NOT NULL CHECK (max_bytes BETWEEN 1048576 AND 524288000)
);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['documents', 'document_objects_pending', 'document_settings'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = kportal_tenant()) WITH CHECK (tenant_id = kportal_tenant())', t);
  END LOOP;
END
$$;
-- kportal never updates a document (it is added or deleted whole), but it
-- locks one (SELECT … FOR UPDATE, which needs the privilege) while deciding
-- whether it may be deleted.

-- The attachment slots of the learning core point at documents of their
-- tenant; deleting a document that nothing signed or approved refers to
-- empties the slot (kportal refuses the deletion otherwise).
ALTER TABLE activities ADD CONSTRAINT activities_document FOREIGN KEY (tenant_id, document_id)
  REFERENCES documents (tenant_id, id) ON DELETE SET NULL (document_id);
ALTER TABLE goal_progress ADD CONSTRAINT goal_progress_document FOREIGN KEY (tenant_id, document_id)
  REFERENCES documents (tenant_id, id) ON DELETE SET NULL (document_id);
CREATE INDEX activities_document ON activities (tenant_id, document_id) WHERE document_id IS NOT NULL;
CREATE INDEX goal_progress_document ON goal_progress (tenant_id, document_id) WHERE document_id IS NOT NULL;

-- The same rule once more in the database, so no bug (or race) can empty the
-- slot of something signed, approved or waiting for a decision.
CREATE FUNCTION documents_keep_referenced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM activities a WHERE a.tenant_id = OLD.tenant_id AND a.document_id = OLD.id AND a.status IN ('requested', 'signed'))
    OR EXISTS (SELECT 1 FROM goal_progress g WHERE g.tenant_id = OLD.tenant_id AND g.document_id = OLD.id AND g.status IN ('sent', 'approved')) THEN
    RAISE EXCEPTION 'document % is part of something signed, approved or waiting for a decision', OLD.id USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN OLD;
END
$$;
CREATE TRIGGER documents_keep_referenced BEFORE DELETE ON documents FOR EACH ROW EXECUTE FUNCTION documents_keep_referenced();
