DROP TABLE sso_identities;
DROP TABLE sso_domains;
DROP TABLE sso_integrations;
ALTER TABLE accounts DROP COLUMN sso_required;
