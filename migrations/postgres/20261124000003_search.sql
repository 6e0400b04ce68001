-- Built-in full-text search over message text: a stored generated `tsvector`, so every insert,
-- edit and tombstone updates it in the writing transaction and existing rows are backfilled by
-- this statement. Two configurations are concatenated: 'english' stems ("running" finds "run"),
-- 'simple' keeps every word as written, so words of other languages (and English stop words)
-- still match exactly. A tombstone's NULL content gives an empty vector.
--
-- No new table: row-level security on `messages` (tenant_isolation, FORCE'd) covers the column.

ALTER TABLE messages ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    to_tsvector('english'::regconfig, coalesce(content, ''))
    || to_tsvector('simple'::regconfig, coalesce(content, ''))
) STORED;

CREATE INDEX messages_search ON messages USING GIN (search_vector);
