-- Search by any part of a person's name, handle or e-mail (issue #24, point 6).
--
-- users.search_key is "handle first last email", lower-cased with accents stripped (NFKD,
-- combining marks dropped: src/db/search.rs). The key is written by the application
-- wherever a user is created or their name or address changes (SQLite has no unaccent, and
-- one code path computes it for both backends); rows the migration leaves at '' are filled
-- in by the migration runner (db::migrate -> db::search::backfill_users).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

ALTER TABLE users ADD COLUMN search_key TEXT NOT NULL DEFAULT '';

-- LIKE '%part%' of 3 or more characters is answered from this index.
CREATE INDEX users_search_key_trgm ON users USING gin (search_key gin_trgm_ops);
