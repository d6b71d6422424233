/** The legacy Match-Auto edge tables in PostgreSQL, and rows that exercise every mapped type. */

export {
  EDGE_SCHEMA as LEGACY_SCHEMA,
  insertCities,
  insertCategories,
} from "../../../ops/rehearse/dual-write/legacy";
export { applyD1Migrations } from "../../../ops/schema/d1";
