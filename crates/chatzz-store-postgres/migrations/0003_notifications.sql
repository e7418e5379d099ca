-- chatzz schema v3 (offline notifications). Only adds: every existing row keeps its
-- values and owes nothing (notify_due_ms NULL). None of the ALTERs rewrites the table:
-- a nullable column without a default is a change to the catalog alone, and so, from
-- PostgreSQL 11, is a NOT NULL column with a constant default (stored once, in the
-- catalog, for the rows that predate it).

-- The notification owed about a message (its recipient had no live socket), kept on the
-- message row itself so that it is written in the same statement as the message:
-- notify_due_ms is when it is (next) due, NULL once nothing is owed (never owed, or
-- finished); notify_attempts counts the failed attempts; notify_owner and
-- notify_lease_until_ms are the server that claimed it and until when (NULL when free).
ALTER TABLE {prefix}messages ADD COLUMN IF NOT EXISTS notify_due_ms BIGINT;
ALTER TABLE {prefix}messages ADD COLUMN IF NOT EXISTS notify_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE {prefix}messages ADD COLUMN IF NOT EXISTS notify_owner TEXT COLLATE "C";
ALTER TABLE {prefix}messages ADD COLUMN IF NOT EXISTS notify_lease_until_ms BIGINT;

-- What is owed, per recipient in store order: a claim finds each recipient's oldest,
-- and counts what is owed, on this index; its cost follows what is owed, never the
-- history. Empty on an upgraded database, but building it still reads the whole table
-- while holding off writes: on a large table, build it CONCURRENTLY beforehand
-- (docs/storage.md, "Offline notifications"); the IF NOT EXISTS here and above then
-- find it.
CREATE INDEX IF NOT EXISTS {prefix}messages_notify ON {prefix}messages (recipient, id)
    WHERE notify_due_ms IS NOT NULL;
