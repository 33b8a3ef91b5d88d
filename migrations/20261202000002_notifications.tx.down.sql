DROP TABLE digests;
DROP TABLE notification_settings;
DROP TABLE deliveries;
REVOKE UPDATE (delivered_at) ON outbox FROM kportal_app;
GRANT UPDATE ON outbox TO kportal_app;
DROP POLICY outbox_relay ON outbox;
DROP FUNCTION kportal_outbox_relay();
