-- The backfill's checkpoint lives in the target database itself: it is written in the same D1 batch
-- as the rows it covers, so it can never run ahead of the data, and any machine (laptop or CI) that
-- runs the next backfill continues from it.
CREATE TABLE _cutover_backfill (
  table_name TEXT PRIMARY KEY,
  -- Keyset position of the last copied row: its updated_at and primary key, as PostgreSQL printed them.
  watermark_updated_at TEXT NOT NULL,
  watermark_key TEXT NOT NULL CHECK (json_valid(watermark_key)),
  rows_copied INTEGER NOT NULL,
  checkpointed_at TEXT NOT NULL
);
