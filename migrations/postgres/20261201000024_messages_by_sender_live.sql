-- no-transaction
-- The sender's index as its readers use it: erasure and the account's export read only a sender's
-- live messages. Partial, it can no longer serve the send path's look-up of an earlier send with
-- the same key (tenant, conversation, sender, client id), which names no `deleted_at`. That
-- look-up has its unique index, but on a table without statistics (a new database, until
-- autovacuum's first analyze) the planner prices an equality on two columns and one on four
-- alike, and took the sender's index: every send then walked its sender's whole history, and
-- batches on a fresh benchmark database took 5.6 ms instead of 0.4 ms to read
-- (docs/benchmarks.md, 2026-12-05, 17:40). Built concurrently so that sends go on meanwhile
-- (one statement per file: PostgreSQL builds an index concurrently only outside a transaction);
-- the next migration drops the old index.
CREATE INDEX CONCURRENTLY messages_by_sender_live
    ON messages (tenant_id, sender_id, created_at, id) WHERE deleted_at IS NULL;
