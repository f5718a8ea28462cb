-- relais store, schema version 1. All times are UTC seconds since 1970 (virtual time
-- in the demo). Every state change is one transaction (src/store/mod.rs).

CREATE TABLE contacts (
    id          INTEGER PRIMARY KEY,
    number      TEXT NOT NULL UNIQUE,          -- E.164, "+" and digits
    first_name  TEXT NOT NULL DEFAULT '',
    last_name   TEXT NOT NULL DEFAULT '',
    fields      TEXT NOT NULL DEFAULT '{}',    -- other CSV columns, JSON object of strings
    zone        TEXT,                          -- verified time zone (IANA name), when known
    department  INTEGER,                       -- verified French department, when known
    created_at  INTEGER NOT NULL
);

-- Consent per number and brand, with where it came from (docs/compliance.md § Decision 11).
CREATE TABLE consents (
    number      TEXT NOT NULL,
    brand       TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('opted-in', 'existing-customer', 'none')),
    source      TEXT NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (number, brand)
);

-- Current opt-outs: brand '*' covers every brand (STOPALL).
CREATE TABLE optouts (
    number      TEXT NOT NULL,
    brand       TEXT NOT NULL,
    keyword     TEXT,
    tier        INTEGER,
    source      TEXT NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (number, brand)
);

-- Every opt-out and opt-in ever recorded, for reports and audits.
CREATE TABLE optout_log (
    id          INTEGER PRIMARY KEY,
    number      TEXT NOT NULL,
    brand       TEXT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('opt-out', 'opt-in')),
    keyword     TEXT,
    tier        INTEGER,
    source      TEXT NOT NULL,
    at          INTEGER NOT NULL
);

CREATE TABLE campaigns (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    template    TEXT NOT NULL,
    class       TEXT NOT NULL,
    brand       TEXT NOT NULL,
    categories  TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL CHECK (status IN ('draft', 'running', 'paused')),
    created_at  INTEGER NOT NULL
);

-- One SMS to one recipient. `state` is the latest; job_history holds every change.
CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY,
    campaign_id INTEGER REFERENCES campaigns(id),
    number      TEXT NOT NULL,
    text        TEXT NOT NULL,                 -- rendered
    class       TEXT NOT NULL,
    brand       TEXT NOT NULL,
    categories  TEXT NOT NULL DEFAULT '',
    department  INTEGER,
    consent     TEXT NOT NULL DEFAULT 'none',
    state       TEXT NOT NULL,
    due_at      INTEGER NOT NULL,              -- earliest next action (queued, deferred, retry)
    expires_at  INTEGER,
    attempt     INTEGER NOT NULL DEFAULT 0,    -- temporary failures retried so far
    device      TEXT,                          -- the device or modem it went to
    rule        TEXT,                          -- deciding rule of the last deferral or refusal
    reason      TEXT,                          -- refusal or failure reason
    parts       INTEGER,
    created_at  INTEGER NOT NULL,
    submitted_at INTEGER,
    sent_at     INTEGER,
    delivered_at INTEGER,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs (state, due_at);
CREATE INDEX jobs_campaign ON jobs (campaign_id, state);
CREATE INDEX jobs_number ON jobs (number, sent_at);

CREATE TABLE job_history (
    id          INTEGER PRIMARY KEY,
    job_id      INTEGER NOT NULL REFERENCES jobs(id),
    at          INTEGER NOT NULL,
    state       TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX job_history_job ON job_history (job_id);

CREATE TABLE deliveries (
    id          INTEGER PRIMARY KEY,
    job_id      INTEGER NOT NULL REFERENCES jobs(id),
    status      TEXT NOT NULL,                 -- delivered, failed, expired
    st          INTEGER NOT NULL,              -- TP-ST of the deciding report
    at          INTEGER NOT NULL
);

CREATE TABLE inbound (
    id          INTEGER PRIMARY KEY,
    device      TEXT NOT NULL,
    sender      TEXT NOT NULL,
    text        TEXT NOT NULL,
    at          INTEGER NOT NULL,              -- service-centre time stamp
    truncated   INTEGER NOT NULL DEFAULT 0
);

-- Keywords the device recognised and acted on.
CREATE TABLE keywords (
    id          INTEGER PRIMARY KEY,
    device      TEXT NOT NULL,
    sender      TEXT NOT NULL,
    kind        TEXT NOT NULL,                 -- opt-out, opt-in, help, possible-opt-out
    keyword     TEXT NOT NULL,
    tier        INTEGER NOT NULL,
    brand       TEXT,                          -- scope: a brand, '*' for all, NULL for none
    confirmed   INTEGER NOT NULL,
    at          INTEGER NOT NULL
);

-- Each device or modem: the last event stored (events are applied exactly once), its
-- boot, and the last status it reported.
CREATE TABLE devices (
    name        TEXT PRIMARY KEY,
    boot        INTEGER,
    last_event  INTEGER,
    status      TEXT NOT NULL DEFAULT '{}',
    updated_at  INTEGER NOT NULL
);
