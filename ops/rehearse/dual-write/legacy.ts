/**
 * The legacy Match-Auto database as runbook 2 finds it (Supabase's public schema): the relational tables
 * that move to the new Supabase schema and the edge tables that move to D1, with rows that exercise every
 * mapped type. The dual-write rehearsal lays its legacy stand-in out from here, and the tests of the
 * backfill, the change capture and validate use the same layout.
 */
import type { Client } from "pg";
import type { PgTableSpec } from "../../backfill/pg-target";

/** The edge tables (cities, categories), read by the Workers and moved to D1. */
export const EDGE_SCHEMA = `
CREATE TYPE city_tier AS ENUM ('metro', 'regional');
CREATE TABLE cities (
  id bigint PRIMARY KEY,
  slug varchar(80) NOT NULL UNIQUE,
  name text NOT NULL,
  state_code char(2),
  country_code char(2) NOT NULL,
  latitude double precision,
  longitude double precision,
  population integer,
  is_active boolean NOT NULL DEFAULT true,
  delivery_fee numeric(12, 4),
  metadata jsonb,
  tier city_tier,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE categories (
  id integer PRIMARY KEY,
  parent_id integer REFERENCES categories (id),
  slug text NOT NULL,
  name text NOT NULL,
  name_i18n json,
  description text,
  sort_order smallint NOT NULL DEFAULT 0,
  is_visible boolean NOT NULL,
  commission_rate numeric,
  created_at timestamp NOT NULL DEFAULT now(),
  updated_at timestamp
);`;

const NAMES = [
  "São Paulo",
  "Bogotá",
  "Ciudad de México",
  "Zürich 🚗",
  "東京",
  "Київ",
  'O\'Higgins "Sur"',
  "🏎️‍🔥 x̃",
];

/**
 * Inserts `count` cities starting at `firstId`. `textBytes` pads metadata (UTF-8 bytes) for the size
 * tests; every 100th row gets `largeTextBytes` instead.
 */
export async function insertCities(
  pg: Client,
  firstId: number,
  count: number,
  textBytes = 0,
  largeTextBytes = textBytes,
): Promise<void> {
  await pg.query(
    `INSERT INTO cities (id, slug, name, state_code, country_code, latitude, longitude, population, is_active,
                         delivery_fee, metadata, tier, created_at, updated_at)
     SELECT i, 'city-' || i, ($3::text[])[1 + i % cardinality($3::text[])] || ' ' || i,
            -- 'D' is padded to 'D ' by char(2): every path must carry it as 'D'.
            CASE WHEN i % 5 = 0 THEN NULL WHEN i % 5 = 1 THEN 'D' ELSE 'SP' END, 'BR',
            -23.5505 + i * 0.000001, -46.6333, CASE WHEN i % 7 = 0 THEN NULL ELSE i * 1000 END, i % 3 <> 0,
            (i * 1.0001)::numeric(12, 4),
            jsonb_build_object('ddd', i % 100, 'tags', jsonb_build_array('ñ', i), 'pad', repeat('é', CASE WHEN i % 100 = 0 THEN $5::int ELSE $4::int END)),
            CASE WHEN i % 2 = 0 THEN 'metro'::city_tier END,
            timestamptz '2025-01-01 00:00:00+00' + i * interval '1 second',
            timestamptz '2026-01-01 00:00:00+00' + (i / 10) * interval '1 millisecond'
       FROM generate_series($1::bigint, $1::bigint + $2 - 1) AS i`,
    [firstId, count, NAMES, Math.floor(textBytes / 2), Math.floor(largeTextBytes / 2)],
  );
}

export async function insertCategories(pg: Client, count: number): Promise<void> {
  await pg.query(
    `INSERT INTO categories (id, parent_id, slug, name, name_i18n, description, sort_order, is_visible,
                             commission_rate, created_at, updated_at)
     SELECT i, CASE WHEN i > 3 THEN 1 + i % 3 END, 'cat-' || i, 'Camionetas ' || i,
            json_build_object('es', 'Camionetas', 'pt', 'Caminhonetes', 'ja', 'ピックアップ'),
            CASE WHEN i % 2 = 0 THEN NULL ELSE E'línea 1\nlínea 2\t"quoted"' END,
            i, i % 4 <> 0, 0.0825, timestamp '2025-02-01 10:00:00', 
            CASE WHEN i % 10 = 0 THEN NULL ELSE timestamp '2026-01-02 00:00:00' + (i % 3) * interval '1 second' END
       FROM generate_series(1, $1) AS i`,
    [count],
  );
}

/**
 * The relational tables (public schema) that move to the new Supabase schema, with the differences
 * supabase-schema/migrations declares: renamed columns, a text status that becomes an enum, an integer
 * year that becomes smallint, and a legacy-only column that stays behind.
 */
export const RELATIONAL_SCHEMA = `
CREATE TABLE users (
  id bigint PRIMARY KEY,
  email text NOT NULL UNIQUE,
  full_name text,
  phone text,
  password_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE vehicles (
  id bigint PRIMARY KEY,
  owner_id bigint NOT NULL REFERENCES users (id),
  make text NOT NULL,
  model text NOT NULL,
  year integer,
  mileage_km integer,
  specs jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE listings (
  id bigint PRIMARY KEY,
  vehicle_id bigint NOT NULL REFERENCES vehicles (id),
  seller_id bigint NOT NULL REFERENCES users (id),
  title text NOT NULL,
  price numeric(12, 2) NOT NULL,
  currency char(3) NOT NULL DEFAULT 'BRL',
  status text NOT NULL CHECK (status IN ('draft', 'active', 'sold', 'archived')),
  city_id bigint,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE listing_photos (
  id bigint PRIMARY KEY,
  listing_id bigint NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
  url text NOT NULL,
  position integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE favorites (
  user_id bigint NOT NULL REFERENCES users (id),
  listing_id bigint NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, listing_id)
);`;

const STATUSES = ["draft", "active", "sold", "archived"];

/** `users` users, one vehicle and one listing each, two photos per listing, and favorites. */
export async function insertRelational(pg: Client, users: number, firstId = 1): Promise<void> {
  const args = [firstId, users];
  const ids = `generate_series($1::bigint, $1::bigint + $2 - 1) AS i`;
  const at = `timestamptz '2026-01-01 00:00:00+00' + i * interval '1 millisecond'`;
  await pg.query(
    `INSERT INTO users (id, email, full_name, phone, password_hash, created_at, updated_at)
     SELECT i, 'user' || i || '@example.com', CASE WHEN i % 9 = 0 THEN NULL ELSE 'Usuário ' || i || ' Ñandú' END,
            CASE WHEN i % 4 = 0 THEN NULL ELSE '+55 11 9' || lpad(i::text, 8, '0') END, 'hash-' || i, ${at}, ${at}
       FROM ${ids}`,
    args,
  );
  await pg.query(
    `INSERT INTO vehicles (id, owner_id, make, model, year, mileage_km, specs, created_at, updated_at)
     SELECT i, i, 'Toyota', 'Hilux ' || i, 1990 + i % 35, CASE WHEN i % 6 = 0 THEN NULL ELSE i * 13 END,
            jsonb_build_object('doors', 4, 'fuel', 'diésel', 'extras', jsonb_build_array('4x4', i)), ${at}, ${at}
       FROM ${ids}`,
    args,
  );
  await pg.query(
    `INSERT INTO listings (id, vehicle_id, seller_id, title, price, currency, status, city_id, created_at, updated_at)
     SELECT i, i, i, 'Hilux "SRX" ' || i, (i * 1234.56)::numeric(12, 2), 'BRL', ($3::text[])[1 + i % 4],
            CASE WHEN i % 5 = 0 THEN NULL ELSE i % 300 END, ${at}, ${at}
       FROM ${ids}`,
    [...args, STATUSES],
  );
  await pg.query(
    `INSERT INTO listing_photos (id, listing_id, url, position, created_at, updated_at)
     SELECT 2 * i + p, i, 'https://cdn.example.com/l/' || i || '/' || p || '.jpg', p, ${at}, ${at}
       FROM ${ids}, generate_series(0, 1) AS p`,
    args,
  );
  await pg.query(
    `INSERT INTO favorites (user_id, listing_id, created_at, updated_at)
     SELECT i, $1::bigint + (i * 7) % $2, ${at}, ${at} FROM ${ids}`,
    args,
  );
}

/** The users table as the new schema takes it (its one renamed column), for copies of it alone. */
export const USERS_TABLE: PgTableSpec = {
  name: "users",
  schema: "public",
  primaryKey: ["id"],
  updatedAtColumn: "updated_at",
  targetSchema: "matchauto",
  targetName: "users",
  columns: { display_name: "full_name" },
};
