DROP INDEX activities_lis_local;
DROP INDEX activities_lis_procedure;
