-- A search's page on PostgreSQL walks the account's range of the search-id index in order
-- and tests each entry (000029). Testing the text was most of the walk's cost: in the
-- benchmark's 10,001-member account, "ovela" (500 hits) reads ~812 entries for a page of
-- 51, and `search_key LIKE '%ovela%'` cost ~320 ns an entry against ~190 ns for reading it
-- (pgbench, a count over the account's 10,001 entries: 1.4 ms without a test, 3.4-4.2 ms
-- with LIKE).
--
-- Each membership now carries a 128-bit signature of the byte trigrams of its search key
-- (two bigints, generated from search_key, so every writer and the user-key trigger keep
-- them true): bit h of the pair for each trigram, h = the top 7 bits of the trigram's 24
-- bits times 2654435761 (mod 2^32). A part's trigrams are a subset of the trigrams of any
-- key holding it, so an entry whose signature lacks one of the part's bits cannot match
-- and is passed over with two integer tests; the text is compared (strpos, a plain
-- substring test: no LIKE pattern, nothing to escape) only where every bit is there. On
-- the benchmark's keys (~86 bytes, ~42 of 128 bits set) 119 of 9,501 non-matching entries
-- pass the signature (1.3%); the count above with the signature's test takes 1.4 ms, and
-- a page of a term found nowhere (the whole range walked) 2.2 ms against 4.4 with LIKE.
--
-- The application computes the part's signature the same way (src/db/search.rs,
-- `trigram_signature`; tests/it/members.rs compares the two). The test is a function so
-- that the signature is tested before the text: as separate conditions PostgreSQL orders
-- them by estimated cost and would compare the text first; a CASE fixes the order, and the
-- function (plain SQL) is inlined into the plan.
CREATE FUNCTION atrium_trigram_signature(k text, half integer) RETURNS bigint
    IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql AS $$
    SELECT COALESCE(bit_or(1::bigint << (h - 64 * half)), 0)
    FROM (
        SELECT ((((get_byte(b, i) * 65536 + get_byte(b, i + 1) * 256 + get_byte(b, i + 2))::bigint
                 * 2654435761) % 4294967296) / 33554432)::integer AS h
        FROM (SELECT convert_to(k, 'UTF8') AS b) AS s,
             generate_series(0, octet_length(convert_to(k, 'UTF8')) - 3) AS i
    ) AS t
    WHERE h / 64 = half
$$;

CREATE FUNCTION atrium_search_holds(
    key_lo bigint, key_hi bigint, search_key text, part_lo bigint, part_hi bigint, part text
) RETURNS boolean IMMUTABLE PARALLEL SAFE LANGUAGE sql AS $$
    SELECT CASE WHEN (key_lo & part_lo) = part_lo AND (key_hi & part_hi) = part_hi
                THEN strpos(search_key, part) > 0
                ELSE false END
$$;

ALTER TABLE account_memberships
    ADD COLUMN search_sig_lo BIGINT NOT NULL
        GENERATED ALWAYS AS (atrium_trigram_signature(search_key, 0)) STORED,
    ADD COLUMN search_sig_hi BIGINT NOT NULL
        GENERATED ALWAYS AS (atrium_trigram_signature(search_key, 1)) STORED;

-- The signature first among the included columns (fixed width, at fixed offsets).
DROP INDEX account_memberships_search_id;
CREATE UNIQUE INDEX account_memberships_search_id
    ON account_memberships (search_id)
    INCLUDE (search_sig_lo, search_sig_hi, user_id, role, search_key);
