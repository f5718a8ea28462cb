-- relais store, schema version 5: which host drives each device (docs/postgres.md).
-- Several hosts may share one store; a device name belongs to one of them at a time,
-- so that a job handed to a device is only ever resubmitted by the host that drives it.

ALTER TABLE devices ADD COLUMN host TEXT;          -- the host driving it (NULL: none)
ALTER TABLE devices ADD COLUMN host_seen INTEGER;  -- when that host last said so
