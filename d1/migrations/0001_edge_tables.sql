-- Edge read-only data of the Match-Auto API, copied from the legacy PostgreSQL by `npm run backfill`.
-- Types follow the backfill's PostgreSQL -> SQLite mapping (ops/backfill/types.ts):
--   bigint/int -> INTEGER, boolean -> INTEGER 0/1, double precision -> REAL,
--   numeric -> TEXT (exact decimal digits; REAL would round), jsonb -> TEXT (checked with json_valid),
--   timestamptz -> TEXT 'YYYY-MM-DDTHH:MM:SS.ffffffZ' (fixed width, so text order = time order).
-- Only the primary key is unique and there are no foreign keys: legacy enforces those rules, and the
-- backfill copies in updated_at order, which may transiently break them (a child before its parent,
-- two rows swapping slugs).

CREATE TABLE cities (
  id INTEGER PRIMARY KEY,
  slug TEXT NOT NULL,
  name TEXT NOT NULL,
  state_code TEXT,
  country_code TEXT NOT NULL,
  latitude REAL,
  longitude REAL,
  population INTEGER,
  is_active INTEGER NOT NULL CHECK (is_active IN (0, 1)),
  delivery_fee TEXT,
  metadata TEXT CHECK (metadata IS NULL OR json_valid(metadata)),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX cities_slug ON cities (slug);
CREATE INDEX cities_country_active ON cities (country_code, is_active);

CREATE TABLE categories (
  id INTEGER PRIMARY KEY,
  parent_id INTEGER,
  slug TEXT NOT NULL,
  name TEXT NOT NULL,
  name_i18n TEXT CHECK (name_i18n IS NULL OR json_valid(name_i18n)),
  description TEXT,
  sort_order INTEGER NOT NULL DEFAULT 0,
  is_visible INTEGER NOT NULL CHECK (is_visible IN (0, 1)),
  commission_rate TEXT,
  created_at TEXT NOT NULL,
  -- Nullable in legacy: such rows are copied first (as -infinity) and never re-copied until it is set.
  updated_at TEXT
);
CREATE INDEX categories_slug ON categories (slug);
CREATE INDEX categories_parent ON categories (parent_id, sort_order);
