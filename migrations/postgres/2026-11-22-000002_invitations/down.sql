DROP INDEX account_memberships_account;
DROP INDEX users_handle_lower;
DROP TABLE outbox;
DROP TABLE invitations;
