-- no-transaction
-- Replaced by `messages_by_sender_live` (the previous migration says why).
DROP INDEX CONCURRENTLY IF EXISTS messages_by_sender;
