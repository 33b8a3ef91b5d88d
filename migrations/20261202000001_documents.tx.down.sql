DROP TRIGGER documents_keep_referenced ON documents;
DROP FUNCTION documents_keep_referenced();
DROP INDEX goal_progress_document, activities_document;
ALTER TABLE goal_progress DROP CONSTRAINT goal_progress_document;
ALTER TABLE activities DROP CONSTRAINT activities_document;
DROP TABLE document_settings, document_objects_pending, documents;
