DROP TABLE audit_events;
DROP TABLE login_failures;
DROP TABLE sessions;
DROP TABLE account_memberships;
DROP TABLE accounts;
DROP TABLE users;
DROP TABLE atrium_write_lock;
