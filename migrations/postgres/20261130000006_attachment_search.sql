-- Attachments' file names are searchable: `messages.attachment_names` holds them (space-separated,
-- NULL when the message carries none, and NULL again once it is a tombstone), and the generated
-- search vector covers them. A generated column's expression cannot change in place, so the
-- column and its index are made again (one rewrite of `messages`).

ALTER TABLE messages ADD COLUMN attachment_names TEXT;

DROP INDEX messages_search;
ALTER TABLE messages DROP COLUMN search_vector;
ALTER TABLE messages ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    to_tsvector('english'::regconfig, coalesce(content, '') || ' ' || coalesce(attachment_names, ''))
    || to_tsvector('simple'::regconfig, coalesce(content, '') || ' ' || coalesce(attachment_names, ''))
) STORED;
CREATE INDEX messages_search ON messages USING GIN (search_vector);
