-- relais store, schema version 2: device event epochs (docs/link.md, "Event epochs").
-- A device numbers its events per store; the epoch names that numbering, so that a
-- device with a fresh store is recognised and none of its events is taken for one
-- already stored.

ALTER TABLE devices ADD COLUMN epoch INTEGER;  -- epoch of last_event (NULL: before v2)

-- Every change of a device's event store, for `relais status` and audits.
CREATE TABLE device_epochs (
    device      TEXT NOT NULL,
    epoch       INTEGER NOT NULL,
    previous    INTEGER,                       -- the epoch before (NULL: first seen)
    last_before INTEGER,                       -- last event stored of the previous epoch
    at          INTEGER NOT NULL,
    PRIMARY KEY (device, epoch)
);
