DROP INDEX account_memberships_search_id;
ALTER TABLE account_memberships DROP COLUMN search_sig_lo, DROP COLUMN search_sig_hi;
DROP FUNCTION atrium_search_holds(bigint, bigint, text, bigint, bigint, text);
DROP FUNCTION atrium_trigram_signature(text, integer);
CREATE UNIQUE INDEX account_memberships_search_id
    ON account_memberships (search_id) INCLUDE (user_id, role, search_key);
