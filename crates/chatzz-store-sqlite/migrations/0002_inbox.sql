-- chatzz schema v2 (protocol 1.1: the inbox, edits and deletes). Only adds: every
-- existing row keeps its values, and the new columns are NULL on them.

-- When the text was last edited, and when the message was deleted (its text is then '').
ALTER TABLE {prefix}messages ADD COLUMN edited_at_ms INTEGER;
ALTER TABLE {prefix}messages ADD COLUMN deleted_at_ms INTEGER;

-- When the room was created; NULL for rooms made before this version.
ALTER TABLE {prefix}rooms ADD COLUMN created_at_ms INTEGER;

-- Each reader's read position in a room: every message of the room to the reader with
-- an id up to `up_to` is read. A table of its own rather than columns of the rooms:
-- an insert into a room would otherwise contend with every read of it for the room
-- row, and a room row would be rewritten at each read. Keyed reader first: a contact
-- list reads all of one reader's positions, and a read finds its one.
CREATE TABLE {prefix}read_positions (
    room_id INTEGER NOT NULL REFERENCES {prefix}rooms (id),
    reader  TEXT NOT NULL,
    up_to   INTEGER NOT NULL,
    PRIMARY KEY (reader, room_id)
) WITHOUT ROWID;

-- The messages not read yet, per room and recipient: unread counts walk the range
-- above a reader's position (covering: deleted_at_ms and status are in it, so no row
-- is read; status changes touch the index anyway, through its WHERE), and a read up to
-- a message walks the range below it. Their cost follows what is unread, never the
-- history.
CREATE INDEX {prefix}messages_unread
    ON {prefix}messages (room_id, recipient, id, deleted_at_ms, status)
    WHERE status <> 2;

-- Who blocks whom: one row per (blocker, blocked), contact or not. A contact list looks
-- each contact up both ways on the key.
CREATE TABLE {prefix}blocks (
    blocker  TEXT NOT NULL,
    blocked  TEXT NOT NULL,
    since_ms INTEGER NOT NULL,
    PRIMARY KEY (blocker, blocked)
) WITHOUT ROWID;
