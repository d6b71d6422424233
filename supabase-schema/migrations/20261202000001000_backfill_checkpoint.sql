-- Up Migration
-- The backfill's checkpoint for the tables it copies into this schema, written in the same transaction
-- as the rows it covers (so it never runs ahead of the data), like _cutover_backfill in D1.
CREATE TABLE _cutover_backfill (
  table_name text PRIMARY KEY,
  -- Keyset position of the last copied row: its updated_at and primary key, as legacy PostgreSQL printed them.
  watermark_updated_at text NOT NULL,
  watermark_key jsonb NOT NULL,
  rows_copied bigint NOT NULL DEFAULT 0,
  checkpointed_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE _cutover_backfill;
