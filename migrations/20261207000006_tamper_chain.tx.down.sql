DROP POLICY chain_verify ON signatures;
DROP POLICY chain_verify ON activities;
DROP POLICY chain_verify ON goal_progress;
DROP FUNCTION kportal_chain_verify(uuid);
DROP TABLE record_chain;
DROP FUNCTION kportal_chain_lis();
