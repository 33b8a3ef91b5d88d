-- A samtale is opened by its id alone and listed by its LIS (the row policies
-- decide which tenant's rows may be read, so the queries cannot lead with
-- tenant_id): without these, every look-up scanned every tenant's samtaler.
CREATE UNIQUE INDEX advisory_sessions_id ON advisory_sessions (id);
CREATE INDEX advisory_sessions_by_lis ON advisory_sessions (lis_id);
