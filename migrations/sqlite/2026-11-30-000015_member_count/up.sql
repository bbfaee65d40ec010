-- The members page's total: kept beside the account by every change of its memberships
-- (accounts::model::add_member / remove_member), in the same transaction, so the page
-- does not count the account's whole membership index on every request (issue #8).
ALTER TABLE accounts ADD COLUMN member_count BIGINT NOT NULL DEFAULT 0;
UPDATE accounts SET member_count = (
    SELECT COUNT(*) FROM account_memberships m WHERE m.account_id = accounts.id
);
