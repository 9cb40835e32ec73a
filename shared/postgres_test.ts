/**
 * parseTimestamptz: PostgreSQL's ISO text of a timestamptz to the instant, for every year
 * PostgreSQL and the API take (1 to 9999). Against a real server: shared/integration/postgres_test.ts.
 */
import assert from "node:assert/strict";
import { parseTimestamptz } from "./postgres.ts";

Deno.test("parseTimestamptz reads years 1 to 99, offsets with seconds and microseconds", () => {
  const iso = (s: string) => parseTimestamptz(s).toISOString();
  assert.equal(iso("0050-01-01 00:00:00+00"), "0050-01-01T00:00:00.000Z");
  assert.equal(iso("0001-01-01 00:00:00+00"), "0001-01-01T00:00:00.000Z");
  assert.equal(iso("1800-01-01 00:09:21+00:09:21"), "1800-01-01T00:00:00.000Z");
  assert.equal(iso("2026-03-01 10:20:30.123456+00"), "2026-03-01T10:20:30.123Z");
  assert.equal(iso("2026-03-01 05:20:30.5-05"), "2026-03-01T10:20:30.500Z");
  assert.equal(iso("9999-12-31 23:59:59.999999+00"), "9999-12-31T23:59:59.999Z");
});
