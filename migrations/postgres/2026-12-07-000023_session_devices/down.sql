ALTER TABLE sessions DROP COLUMN client_address;
ALTER TABLE sessions DROP COLUMN user_agent;
