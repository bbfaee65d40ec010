ALTER TABLE accounts DROP COLUMN member_count;
