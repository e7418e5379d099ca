-- chatzz schema v3 (offline notifications). Only adds: every existing row keeps its
-- values and owes nothing (notify_due_ms NULL). SQLite adds a column by changing the
-- schema alone: no row is rewritten.

-- The notification owed about a message (its recipient had no live socket), kept on the
-- message row itself so that it is written in the same statement as the message:
-- notify_due_ms is when it is (next) due, NULL once nothing is owed (never owed, or
-- finished); notify_attempts counts the failed attempts; notify_owner and
-- notify_lease_until_ms are the server that claimed it and until when (NULL when free).
ALTER TABLE {prefix}messages ADD COLUMN notify_due_ms INTEGER;
ALTER TABLE {prefix}messages ADD COLUMN notify_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE {prefix}messages ADD COLUMN notify_owner TEXT;
ALTER TABLE {prefix}messages ADD COLUMN notify_lease_until_ms INTEGER;

-- What is owed, per recipient in store order: a claim finds each recipient's oldest,
-- and counts what is owed, on this index alone; its cost follows what is owed, never
-- the history. Empty on an upgraded database, whose messages owe nothing.
CREATE INDEX {prefix}messages_notify ON {prefix}messages (recipient, id)
    WHERE notify_due_ms IS NOT NULL;
