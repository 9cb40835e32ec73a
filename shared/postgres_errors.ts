/**
 * Which PostgreSQL errors say "this data can never be stored" rather than
 * "try again later". Retrying the former is pointless: the consumers isolate
 * the entries at fault and dead-letter them (see `shared/stream_consumer.ts`
 * and the detector's persist stage).
 *
 * @module
 */

/**
 * SQLSTATE classes of errors caused by the data of a statement: 22 (data
 * exception: NUL in text, invalid JSON, untranslatable character, value out
 * of range), 23 (integrity constraint violation) and 54 (program limit
 * exceeded: a value too large). Connection, resource, and schema errors
 * (08, 53, 57, 42…) are not: they hit every statement alike.
 */
export function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^(22|23|54)[0-9A-Z]{3}$/.test(code);
}
