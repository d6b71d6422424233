/**
 * The legacy Match-Auto relational tables (public schema) that move to the new Supabase schema, with
 * the differences supabase-schema/migrations declares: renamed columns, a text status that becomes an
 * enum, an integer year that becomes smallint, and a legacy-only column that stays behind.
 */
import type { Client } from "pg";
export { RELATIONAL_SCHEMA, USERS_TABLE, insertRelational } from "../../../ops/rehearse/dual-write/legacy";

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
