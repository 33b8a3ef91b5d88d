-- Databehandleravtaler (GDPR art. 28): each signature of a version of the
-- agreement by a kommune (or private provider). The exact rendered text that
-- was signed is kept with its sha256, so what was signed is never lost; the
-- PDF receipt lives in object storage under tenants/<tenant-id>/agreements/.
CREATE TABLE agreement_signatures (
  tenant_id         uuid NOT NULL REFERENCES tenants (id),
  id                uuid NOT NULL DEFAULT gen_random_uuid(),
  version           text NOT NULL CHECK (version ~ '^[0-9A-Za-z][0-9A-Za-z._-]{0,39}$'),
  version_published date NOT NULL,
  body              text NOT NULL CHECK (length(body) > 0),
  checksum          text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
  tenant_name       text NOT NULL,
  orgnr             text NOT NULL DEFAULT '',
  kommunenummer     text NOT NULL DEFAULT '',
  signer_id         uuid NOT NULL REFERENCES people (id),
  signer_name       text NOT NULL CHECK (length(signer_name) BETWEEN 1 AND 200),
  signer_title      text NOT NULL CHECK (length(btrim(signer_title)) BETWEEN 1 AND 200),
  signed_at         timestamptz NOT NULL DEFAULT now(),
  receipt_key       text NOT NULL,
  receipt_size      bigint NOT NULL CHECK (receipt_size > 0),
  receipt_sha256    text NOT NULL CHECK (receipt_sha256 ~ '^[0-9a-f]{64}$'),
  PRIMARY KEY (tenant_id, id),
  -- A version is signed once per tenant.
  UNIQUE (tenant_id, version),
  -- The checksum is the checksum of the text kept.
  CHECK (checksum = encode(sha256(convert_to(body, 'UTF8')), 'hex')),
  CHECK (receipt_key = 'tenants/' || tenant_id || '/agreements/' || id || '.pdf')
);
CREATE INDEX agreement_signatures_signed ON agreement_signatures (tenant_id, signed_at DESC);
ALTER TABLE agreement_signatures ENABLE ROW LEVEL SECURITY;
ALTER TABLE agreement_signatures FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON agreement_signatures
  USING (tenant_id = kportal_tenant())
  WITH CHECK (tenant_id = kportal_tenant());

-- A signature is evidence: the application adds them and never changes or
-- removes one.
REVOKE UPDATE, DELETE, TRUNCATE ON agreement_signatures FROM kportal_app;
