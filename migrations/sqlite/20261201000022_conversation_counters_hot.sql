-- Every send batch updates its conversations' counters, `last_activity_at` among them. No query
-- reads conversations by activity across a tenant (each list starts from the user's
-- memberships and sorts their conversations), so the index that every batch rewrote goes
-- (the PostgreSQL schema drops it for the same reason, where it also kept the updates from
-- being heap-only).
DROP INDEX conversations_by_activity;
