-- The W3C `traceparent` of the work that wrote an event (NULL when traces are not exported), so
-- the outbox relay and the event log's consumers continue that trace after the commit.
ALTER TABLE events ADD COLUMN trace_parent TEXT;
