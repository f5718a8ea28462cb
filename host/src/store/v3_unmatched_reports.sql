-- relais store, schema version 3: delivery reports that match no job (docs/link.md,
-- "Delivery reports"). The device matches a report on its TP-MR, its recipient and its
-- time; one that fits no job it remembers is reported and kept here, unattributed,
-- instead of being lost or given to the wrong job.

CREATE TABLE unmatched_reports (
    id          INTEGER PRIMARY KEY,
    device      TEXT NOT NULL,
    recipient   TEXT NOT NULL,     -- TP-RA as the service centre wrote it
    mr          INTEGER NOT NULL,  -- TP-MR
    status      INTEGER NOT NULL,  -- TP-ST (TS 23.040 §9.2.3.15)
    submitted   INTEGER NOT NULL,  -- TP-SCTS: when the service centre had the message
    at          INTEGER NOT NULL,  -- TP-DT: when that status was reached
    received_at INTEGER NOT NULL   -- when the host stored it
);
CREATE INDEX unmatched_reports_by_recipient ON unmatched_reports (recipient, submitted);
