DROP TABLE casbin_rules;
DROP FUNCTION casbin_rules_notify();
