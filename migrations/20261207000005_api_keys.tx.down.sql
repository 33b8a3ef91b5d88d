DROP TABLE api_key_audit;
DROP TABLE api_keys;
DROP FUNCTION kportal_api_keys_admin();
