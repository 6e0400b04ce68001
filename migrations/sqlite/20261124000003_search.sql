-- Built-in full-text search over message text: an FTS5 index whose content lives in `messages`
-- (external content), so the text is stored once. Triggers keep it in step with every insert,
-- edit and delete in the same transaction; a tombstone (content set to NULL) leaves no token
-- behind. The index holds no tenant or conversation: queries join back to `messages` by rowid
-- and filter there.
--
-- `messages` has no INTEGER PRIMARY KEY, so its rowid is not guaranteed to survive `VACUUM` or a
-- dump and reload; after either, run `INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')`.

CREATE VIRTUAL TABLE messages_fts USING fts5 (
    content,
    content = 'messages',
    content_rowid = 'rowid',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

-- Deleted entries are removed from the index pages themselves rather than masked until the next
-- merge: a deleted message's words must not stay recoverable from the database file.
INSERT INTO messages_fts (messages_fts, rank) VALUES ('secure-delete', 1);

-- Every row is indexed, NULL content as an empty document, so the index and `messages` agree row
-- for row (FTS5's integrity check compares them) and each 'delete' names exactly what was indexed.
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, content) VALUES (new.rowid, new.content);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
    INSERT INTO messages_fts (rowid, content) VALUES (new.rowid, new.content);
END;

-- Backfill: index the messages stored before this migration.
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
