-- chatzz schema v1. `{prefix}` is replaced by the configured table prefix. Every user id
-- column compares bytewise (COLLATE "C"), as Rust compares strings; times are epoch
-- milliseconds, exactly what a `Timestamp` holds.

CREATE TABLE {prefix}users (
    id             TEXT COLLATE "C" PRIMARY KEY,
    last_online_ms BIGINT
);

-- One room per pair: the pair is stored sorted (user_a < user_b, in byte order, as the
-- adapter sorts it) and unique, so concurrent links of a pair insert one row.
CREATE TABLE {prefix}rooms (
    id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_a TEXT COLLATE "C" NOT NULL,
    user_b TEXT COLLATE "C" NOT NULL,
    CONSTRAINT {prefix}rooms_sorted CHECK (user_a < user_b),
    CONSTRAINT {prefix}rooms_pair UNIQUE (user_a, user_b)
);
-- Contacts look a user up on either side: the unique pair index covers user_a.
CREATE INDEX {prefix}rooms_by_b ON {prefix}rooms (user_b, id);

-- Ids come from one sequence; within a room they are taken and committed in order
-- because an insert holds the room's row lock (see `insert_message`).
-- status: 0 not_sent, 1 sent, 2 read.
CREATE TABLE {prefix}messages (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id           BIGINT NOT NULL REFERENCES {prefix}rooms (id),
    sender            TEXT COLLATE "C" NOT NULL,
    recipient         TEXT COLLATE "C" NOT NULL,
    body              TEXT NOT NULL,
    status            SMALLINT NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2)),
    created_at_ms     BIGINT NOT NULL,
    read_at_ms        BIGINT,
    client_message_id TEXT COLLATE "C"
);
-- History pages walk a room by id.
CREATE INDEX {prefix}messages_by_room ON {prefix}messages (room_id, id);
-- A retried send finds the first one; NULLs never collide.
CREATE UNIQUE INDEX {prefix}messages_client_id ON {prefix}messages (sender, client_message_id)
    WHERE client_message_id IS NOT NULL;
-- Missed messages on connect: only the undelivered ones are indexed.
CREATE INDEX {prefix}messages_undelivered ON {prefix}messages (recipient, sender, id)
    WHERE status = 0;
