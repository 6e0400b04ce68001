-- Attachments' file names are searchable: `messages.attachment_names` holds them (space-separated,
-- NULL when the message carries none, and NULL again once it is a tombstone), and the full-text
-- index covers them as a second column. FTS5 cannot add a column, so the index is rebuilt with
-- its triggers; a match in either column finds the message.

ALTER TABLE messages ADD COLUMN attachment_names TEXT;

DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
DROP TABLE messages_fts;

CREATE VIRTUAL TABLE messages_fts USING fts5 (
    content,
    attachment_names,
    content = 'messages',
    content_rowid = 'rowid',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
INSERT INTO messages_fts (messages_fts, rank) VALUES ('secure-delete', 1);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, content, attachment_names)
        VALUES (new.rowid, new.content, new.attachment_names);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content, attachment_names)
        VALUES ('delete', old.rowid, old.content, old.attachment_names);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, attachment_names ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content, attachment_names)
        VALUES ('delete', old.rowid, old.content, old.attachment_names);
    INSERT INTO messages_fts (rowid, content, attachment_names)
        VALUES (new.rowid, new.content, new.attachment_names);
END;

INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
