import assert from "node:assert/strict";
import { formatZodError } from "./event.ts";
import {
  anomalyListQuerySchema,
  entityQuerySchema,
  seriesQuerySchema,
  silenceListQuerySchema,
  statsQuerySchema,
} from "./web_api.ts";
import { notificationListQuerySchema } from "./notifier_api.ts";
import type { z } from "zod";

/** The error a query answers, as the routes word it (after "Cannot read query: "). */
function refusal(schema: z.ZodType, query: Record<string, string>): string {
  const r = schema.safeParse(query);
  assert.ok(!r.success, `${JSON.stringify(query)} was accepted`);
  return formatZodError(r.error);
}

Deno.test("limit takes decimal digits only, and a refusal says the range", async (t) => {
  const cases: [z.ZodType, number][] = [
    [anomalyListQuerySchema, 500],
    [seriesQuerySchema, 5000],
    [silenceListQuerySchema, 5000],
    [notificationListQuerySchema, 1000],
  ];
  for (const [schema, max] of cases) {
    await t.step(`max ${max}`, () => {
      for (const limit of ["0x10", "1e2", "abc", " 5", "5.0", "-1", "0", String(max + 1), ""]) {
        assert.equal(
          refusal(schema, { limit }),
          `limit: must be a whole number from 1 to ${max}`,
          `limit=${limit}`,
        );
      }
      assert.equal((schema.parse({ limit: "16" }) as { limit: number }).limit, 16);
      assert.equal((schema.parse({ limit: String(max) }) as { limit: number }).limit, max);
      assert.equal(typeof (schema.parse({}) as { limit: number }).limit, "number");
    });
  }
  assert.equal(
    refusal(entityQuerySchema, { points: "1e3" }),
    "points: must be a whole number from 1 to 1000",
  );
});

Deno.test("series: from after to answers 400 like anomalies and stats, not an empty list", () => {
  const from = "2025-06-01T10:00:00Z";
  const to = "2025-06-01T09:00:00Z";
  assert.equal(refusal(seriesQuerySchema, { from, to }), "from: from must be before to");
  assert.equal(refusal(anomalyListQuerySchema, { from, to }), "from: from must be before to");
  assert.ok(seriesQuerySchema.safeParse({ from: to, to: from }).success);
  assert.ok(seriesQuerySchema.safeParse({ from }).success);
  assert.ok(statsQuerySchema.safeParse({ from: to, to: from }).success);
});

Deno.test("series: an empty or wildcard measure says what is wrong, once", () => {
  assert.equal(refusal(seriesQuerySchema, { measure: "" }), "measure: must not be empty");
  assert.equal(refusal(seriesQuerySchema, { measure: "  " }), "measure: must not be empty");
  assert.equal(
    refusal(seriesQuerySchema, { measure: "lat*" }),
    "measure: must not contain :, *, ?, [, ] or \\",
  );
  // vigil:scores:<type>:<entity>:<measure>: a ':' in the measure names another entity's key.
  assert.equal(
    refusal(seriesQuerySchema, { measure: "eu:latency_ms" }),
    "measure: must not contain :, *, ?, [, ] or \\",
  );
  assert.equal(seriesQuerySchema.parse({ measure: " latency_ms " }).measure, "latency_ms");
});

Deno.test("severity filters take any case", () => {
  assert.deepEqual(anomalyListQuerySchema.parse({ severity: "warning,Critical" }).severity, [
    "WARNING",
    "CRITICAL",
  ]);
});

Deno.test("an unencoded + offset (read as a space) is told to be written %2B", () => {
  for (
    const [from, written] of [
      ["2025-06-01T10:00:00 01:00", "(2025-06-01T10:00:00%2B01:00)"],
      ["2025-06-01T10:00:00.000 05:30", "(2025-06-01T10:00:00.000%2B05:30)"],
    ] as const
  ) {
    const message = refusal(anomalyListQuerySchema, { from });
    assert.match(message, /^from: .*"\+" arrived as a space; write it %2B in a URL/, message);
    assert.ok(message.endsWith(written), message);
  }
  assert.equal(
    refusal(anomalyListQuerySchema, { to: "yesterday" }),
    "to: must be an ISO 8601 time with offset or epoch milliseconds",
  );
  assert.equal(
    anomalyListQuerySchema.parse({ from: "2025-06-01T10:00:00+01:00" }).from,
    Date.parse("2025-06-01T09:00:00Z"),
  );
});

Deno.test("the %2B written back for an unencoded + offset is a time the API reads", () => {
  // `+0100` (no colon) was written back as `%2B0100`, which the API refused in turn.
  for (const from of ["2025-06-01T10:00:00 01:00", "2025-06-01T10:00:00.250 0530"]) {
    const message = refusal(anomalyListQuerySchema, { from });
    const written = /\(([^()]*)\)$/.exec(message)?.[1] ?? "";
    const parsed = anomalyListQuerySchema.safeParse({ from: decodeURIComponent(written) });
    assert.ok(parsed.success, `${from}: ${message}`);
  }
});
