/**
 * The legacy Match-Auto relational tables (public schema) that move to the new Supabase schema, with
 * the differences supabase-schema/migrations declares: renamed columns, a text status that becomes an
 * enum, an integer year that becomes smallint, and a legacy-only column that stays behind.
 */
import type { Client } from "pg";

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

/**
 * Each table as the new schema should hold it, read from legacy with the spec's mapping applied, as
 * text rows in key order: what a faithful copy must equal.
 */
export const EXPECTED_NEW: Record<string, { legacy: string; target: string }> = {
  users: {
    legacy: "SELECT id, email, full_name, phone, created_at, updated_at FROM public.users ORDER BY id",
    target: "SELECT id, email, display_name, phone, created_at, updated_at FROM matchauto.users ORDER BY id",
  },
  vehicles: {
    legacy:
      "SELECT id, owner_id, make, model, year, mileage_km, specs, created_at, updated_at FROM public.vehicles ORDER BY id",
    target:
      "SELECT id, owner_id, make, model, model_year, mileage_km, specs, created_at, updated_at FROM matchauto.vehicles ORDER BY id",
  },
  listings: {
    legacy:
      "SELECT id, vehicle_id, seller_id, title, price, currency, status, city_id, created_at, updated_at FROM public.listings ORDER BY id",
    target:
      "SELECT id, vehicle_id, seller_id, title, price, currency, status::text, city_id, created_at, updated_at FROM matchauto.listings ORDER BY id",
  },
  listing_photos: {
    legacy:
      "SELECT id, listing_id, url, position, created_at, updated_at FROM public.listing_photos ORDER BY id",
    target:
      "SELECT id, listing_id, url, sort_order, created_at, updated_at FROM matchauto.listing_photos ORDER BY id",
  },
  favorites: {
    legacy: "SELECT user_id, listing_id, created_at, updated_at FROM public.favorites ORDER BY 1, 2",
    target: "SELECT user_id, listing_id, created_at, updated_at FROM matchauto.favorites ORDER BY 1, 2",
  },
};

/** Rows of a query as PostgreSQL's text, so that equal means equal to the last digit. */
export async function textRows(pg: Client, sql: string): Promise<(string | null)[][]> {
  const r = await pg.query({ text: sql, rowMode: "array", types: { getTypeParser: () => (v: string) => v } });
  return r.rows as (string | null)[][];
}
