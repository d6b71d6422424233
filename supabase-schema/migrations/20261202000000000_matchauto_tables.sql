-- Up Migration
-- The Match-Auto relational tables in the new Supabase schema. The runner sets search_path to the
-- stack's target.schema (e.g. matchauto), so names here are unqualified and the same file serves every
-- stack. Applied at `shadow` by `npm run schema:migrate`; recorded in <schema>._cutover_schema_migrations.
--
-- Differences from the legacy public schema are declared in the stack's tables[].columns mapping (new
-- name ← legacy name) and carried by the backfill and the change capture:
--   users.full_name         → users.display_name
--   listing_photos.position → listing_photos.sort_order
--   listings.status text    → listings.status listing_status (enum; legacy values are its labels)
--   vehicles.year integer   → vehicles.model_year smallint
--
-- No foreign keys while legacy is the writer of record (shadow → read-switch): legacy enforces them,
-- and the backfill (updated_at order) and the change capture (commit order per key) may land a child
-- before its parent. Add them after the final cut in a new migration: ADD CONSTRAINT … NOT VALID, then
-- VALIDATE CONSTRAINT (no long lock).

CREATE TYPE listing_status AS ENUM ('draft', 'active', 'sold', 'archived');

CREATE TABLE users (
  id bigint PRIMARY KEY,
  email text NOT NULL,
  display_name text,
  phone text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

CREATE TABLE vehicles (
  id bigint PRIMARY KEY,
  owner_id bigint NOT NULL,
  make text NOT NULL,
  model text NOT NULL,
  model_year smallint CHECK (model_year BETWEEN 1886 AND 2100),
  mileage_km integer CHECK (mileage_km >= 0),
  specs jsonb,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX vehicles_owner ON vehicles (owner_id);

CREATE TABLE listings (
  id bigint PRIMARY KEY,
  vehicle_id bigint NOT NULL,
  seller_id bigint NOT NULL,
  title text NOT NULL,
  price numeric(12, 2) NOT NULL CHECK (price >= 0),
  currency char(3) NOT NULL,
  status listing_status NOT NULL,
  city_id bigint,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX listings_seller ON listings (seller_id);
CREATE INDEX listings_status_city ON listings (status, city_id);

CREATE TABLE listing_photos (
  id bigint PRIMARY KEY,
  listing_id bigint NOT NULL,
  url text NOT NULL,
  sort_order integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX listing_photos_listing ON listing_photos (listing_id, sort_order);

CREATE TABLE favorites (
  user_id bigint NOT NULL,
  listing_id bigint NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (user_id, listing_id)
);

-- Down Migration
DROP TABLE favorites;
DROP TABLE listing_photos;
DROP TABLE listings;
DROP TABLE vehicles;
DROP TABLE users;
DROP TYPE listing_status;
