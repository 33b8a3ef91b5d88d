-- Indexes the national data set (kportal seed --national: 10 million
-- activities) showed were missing.
--
-- The procedure list (activities.Store.Procedures, on the LIS home and
-- /prosedyrer) sums, for each of the plan's procedures, the LIS's activities
-- of that procedure by role and status: four correlated subqueries per
-- procedure. With only activities_lis (tenant_id, lis_id, done_on) each one
-- read all of the LIS's activities (1,000 in the data set): 160 scans of
-- 1,000 rows, 68 ms for one page. These find the few rows of one procedure,
-- and carry what the sums read, so a vacuumed table answers from the index.
CREATE INDEX activities_lis_procedure ON activities (tenant_id, lis_id, procedure_id)
  INCLUDE (procedure_role, status, count) WHERE procedure_id IS NOT NULL;
CREATE INDEX activities_lis_local ON activities (tenant_id, lis_id, local_id)
  INCLUDE (procedure_role, status, count) WHERE local_id IS NOT NULL;
