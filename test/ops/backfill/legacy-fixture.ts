/** The legacy Match-Auto edge tables in PostgreSQL, and rows that exercise every mapped type. */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Client } from "pg";
import type { D1Target } from "../../../ops/backfill/targets";

export const LEGACY_SCHEMA = `
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

/** Applies d1/migrations through the target (the wrangler path is covered by the d1:migrate test). */
export async function applyD1Migrations(target: D1Target): Promise<void> {
  const dir = path.resolve(__dirname, "../../../d1/migrations");
  for (const file of fs.readdirSync(dir).sort()) {
    const sql = fs
      .readFileSync(path.join(dir, file), "utf8")
      .split("\n")
      .filter((l) => !l.trim().startsWith("--"))
      .join("\n");
    const statements = sql
      .split(";")
      .map((s) => s.trim())
      .filter(Boolean);
    await target.batch(statements.map((s) => ({ sql: s, params: [] })));
  }
}
