-- relais store, schema version 4: the HTTP gateway (`relais serve`, docs/http.md).
-- Jobs remember who asked for them and where their delivery reports go; callbacks and
-- webhooks wait here until the application took them, so a crash loses none.

ALTER TABLE jobs ADD COLUMN origin TEXT;      -- 'sendsms:<user>', 'api:<token>', NULL from the CLI
ALTER TABLE jobs ADD COLUMN sender TEXT;      -- the `from` the client asked for (recorded)
ALTER TABLE jobs ADD COLUMN dlr_url TEXT;     -- Kannel dlr-url template
ALTER TABLE jobs ADD COLUMN dlr_mask INTEGER; -- Kannel dlr-mask (1, 2, 4, 8, 16)
ALTER TABLE jobs ADD COLUMN meta TEXT;        -- JSON: request parameters relais records but does not act on
ALTER TABLE jobs ADD COLUMN message_id TEXT;  -- the client's id of a message to several recipients
ALTER TABLE jobs ADD COLUMN via TEXT;         -- the only device that may send it (a user's `device`)
CREATE INDEX jobs_origin ON jobs (origin, id);
CREATE INDEX jobs_message ON jobs (origin, message_id) WHERE message_id IS NOT NULL;

-- Answers of the JSON API by Idempotency-Key: the same key and body get the first
-- answer again; another body under the same key is refused.
CREATE TABLE idempotency (
    client      TEXT NOT NULL,
    key         TEXT NOT NULL,
    body_hash   TEXT NOT NULL,   -- SHA-256 of the request body, hex
    status      INTEGER NOT NULL,
    answer      TEXT NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (client, key)
);

-- Webhooks registered through the API (the configured ones are in the configuration).
CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY,
    client      TEXT NOT NULL,
    url         TEXT NOT NULL,
    event       TEXT NOT NULL,   -- one event name, or '*'
    created_at  INTEGER NOT NULL
);

-- Connections and losses of devices, for device.up / device.down.
CREATE TABLE device_log (
    id          INTEGER PRIMARY KEY,
    device      TEXT NOT NULL,
    up          INTEGER NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    at          INTEGER NOT NULL
);

-- Outgoing HTTP calls: dlr-url, sms-service and webhook. `id` is the event id the
-- receiver sees; it stays the same across retries.
CREATE TABLE callbacks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, even after pruning
    kind        TEXT NOT NULL CHECK (kind IN ('dlr', 'service', 'webhook')),
    event       TEXT NOT NULL,   -- delivered, sent, received, device.up, ...
    job_id      INTEGER,
    inbound_id  INTEGER,
    method      TEXT NOT NULL,   -- GET or POST
    url         TEXT NOT NULL,
    content_type TEXT,
    body        BLOB,
    secret      TEXT,            -- webhook signing key (never logged)
    state       TEXT NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    due_at      INTEGER NOT NULL,
    last_status INTEGER,         -- HTTP status of the last try
    last_error  TEXT,
    created_at  INTEGER NOT NULL,
    done_at     INTEGER
);
CREATE INDEX callbacks_due ON callbacks (state, due_at);

-- How far the callback producer has read each log (job_history, inbound, device_log).
CREATE TABLE cursors (
    name        TEXT PRIMARY KEY,
    last        INTEGER NOT NULL
);
