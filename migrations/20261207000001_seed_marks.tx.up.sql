-- A database `kportal seed` made (the demo or the national data set) is marked
-- when seed first runs on it. Seed and the benchmarks that write refuse a
-- database holding people from before the first mark (or any, without one):
-- that is somebody's real data.
CREATE TABLE seed_marks (
  at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  kind text NOT NULL
);
REVOKE INSERT, UPDATE, DELETE ON seed_marks FROM kportal_app;

-- A database seed made before the marks existed: its first person is one of
-- seed's (the demo's or the national data set's).
INSERT INTO seed_marks (at, kind)
SELECT created_at, 'before marks' FROM people
WHERE created_at = (SELECT min(created_at) FROM people)
  AND (email LIKE '%@demo.kportal.no' OR email LIKE '%@national.kportal.no')
LIMIT 1;
