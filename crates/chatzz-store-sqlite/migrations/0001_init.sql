-- chatzz schema v1. `{prefix}` is replaced by the configured table prefix.

CREATE TABLE {prefix}users (
    id             TEXT PRIMARY KEY NOT NULL,
    last_online_ms INTEGER
) WITHOUT ROWID;

-- One room per pair: the pair is stored sorted (user_a < user_b) and unique.
CREATE TABLE {prefix}rooms (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    user_a TEXT NOT NULL,
    user_b TEXT NOT NULL,
    CHECK (user_a < user_b),
    UNIQUE (user_a, user_b)
);
CREATE INDEX {prefix}rooms_by_b ON {prefix}rooms (user_b, id);

-- AUTOINCREMENT: ids only grow, even after deletes, so id order is creation order.
-- status: 0 not_sent, 1 sent, 2 read.
CREATE TABLE {prefix}messages (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id           INTEGER NOT NULL REFERENCES {prefix}rooms (id),
    sender            TEXT NOT NULL,
    recipient         TEXT NOT NULL,
    body              TEXT NOT NULL,
    status            INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2)),
    created_at_ms     INTEGER NOT NULL,
    read_at_ms        INTEGER,
    client_message_id TEXT
);
-- History pages walk a room by id.
CREATE INDEX {prefix}messages_by_room ON {prefix}messages (room_id, id);
-- A retried send finds the first one; NULLs never collide.
CREATE UNIQUE INDEX {prefix}messages_client_id ON {prefix}messages (sender, client_message_id)
    WHERE client_message_id IS NOT NULL;
-- Missed messages on connect: only the undelivered ones are indexed.
CREATE INDEX {prefix}messages_undelivered ON {prefix}messages (recipient, sender, id)
    WHERE status = 0;
