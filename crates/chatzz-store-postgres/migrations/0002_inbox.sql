-- chatzz schema v2 (protocol 1.1: the inbox, edits and deletes). Only adds: every
-- existing row keeps its values, and the new columns are NULL on them (adding a
-- nullable column without a default rewrites nothing).

-- When the text was last edited, and when the message was deleted (its text is then
-- ''). The row version that held the text stays in the table until VACUUM (autovacuum)
-- reclaims it.
ALTER TABLE {prefix}messages ADD COLUMN IF NOT EXISTS edited_at_ms BIGINT;
ALTER TABLE {prefix}messages ADD COLUMN IF NOT EXISTS deleted_at_ms BIGINT;

-- When the room was created; NULL for rooms made before this version.
ALTER TABLE {prefix}rooms ADD COLUMN IF NOT EXISTS created_at_ms BIGINT;

-- Each reader's read position in a room: every message of the room to the reader with
-- an id up to `up_to` is read. A table of its own rather than a column of the rooms:
-- an insert holds its room's row lock (FOR UPDATE) until it commits, so reads would
-- wait for sends, and every read would write a new version of the room row. No
-- foreign key to the rooms for the same reason (its check locks the room row FOR KEY
-- SHARE, which waits for an insert's lock); rooms are never deleted. Keyed reader first:
-- a contact list reads all of one reader's positions, and a read finds its one.
CREATE TABLE {prefix}read_positions (
    room_id BIGINT NOT NULL,
    reader  TEXT COLLATE "C" NOT NULL,
    up_to   BIGINT NOT NULL,
    CONSTRAINT {prefix}read_positions_pkey PRIMARY KEY (reader, room_id)
);

-- The messages not read yet, per room and recipient: unread counts walk the range
-- above a reader's position (deleted_at_ms included, for index-only scans), and a read
-- up to a message walks the range below it. Their cost follows what is unread, never
-- the history. Built inside the migration's transaction, which holds the ALTERs' locks:
-- on a large table, add deleted_at_ms and build this index CONCURRENTLY beforehand
-- (docs/storage.md, "Upgrading a large PostgreSQL database"); the IF NOT EXISTS here
-- and above then find them.
CREATE INDEX IF NOT EXISTS {prefix}messages_unread ON {prefix}messages (room_id, recipient, id)
    INCLUDE (deleted_at_ms) WHERE status <> 2;

-- Who blocks whom: one row per (blocker, blocked), contact or not. A contact list looks
-- each contact up both ways on the key.
CREATE TABLE IF NOT EXISTS {prefix}blocks (
    blocker  TEXT COLLATE "C" NOT NULL,
    blocked  TEXT COLLATE "C" NOT NULL,
    since_ms BIGINT NOT NULL,
    CONSTRAINT {prefix}blocks_pkey PRIMARY KEY (blocker, blocked)
);
