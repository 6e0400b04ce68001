-- Every send writes its messages' search vectors into `messages_search`. With GIN's fast update
-- (the default) those entries wait in a pending list, and the insert that finds the list past
-- `gin_pending_list_limit` (4 MiB by default) merges all of it into the index before it returns. On
-- the send path that insert is one batch of the single writer every send queues behind: at 2 800
-- messages a second the batches stalled for a quarter of a second and more, the queue grew past
-- what one batch takes, and in three runs of five the sends' p95 went to seven seconds and more
-- with sends lost; with the entries written as each message is, none of five collapsed
-- (docs/benchmarks.md, 2026-12-05, 06:00). PostgreSQL's documentation advises the same where steady
-- response time matters more than insert speed.
ALTER INDEX messages_search SET (fastupdate = off);
