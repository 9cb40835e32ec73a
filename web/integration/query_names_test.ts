/**
 * Every API route refuses a query name it does not take, as `/api/anomalies?foo=1` does:
 * also the routes that take none (`/api/system/*`, `/api/live`, `/api/notifications/test`),
 * which used to ignore it, so `/api/system/rules?rule=amount_high` or
 * `/api/live?type=logs` answered everything as if it were filtered.
 */
import assert from "node:assert/strict";
import { insertAnomalies, withWebApp } from "./_helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const TOKEN = "test-token-0123456789";

Deno.test(
  "API routes without a query refuse any query name with a 400 naming it",
  opts,
  async () => {
    await withWebApp(async ({ app, hub }) => {
      const cases: [string, string][] = [
        ["GET", "/api/system/rules?rule=amount_high"],
        ["GET", "/api/system/retention?table=silences"],
        ["GET", "/api/live?type=logs"],
        ["HEAD", "/api/live?type=logs"],
        ["POST", "/api/notifications/test?channel=email"],
      ];
      for (const [method, path] of cases) {
        const res = await app.request(path, {
          method,
          headers: { authorization: `Bearer ${TOKEN}` },
        });
        assert.equal(res.status, 400, `${method} ${path}`);
        if (method !== "HEAD") {
          const name = new URL(path, "http://x").searchParams.keys().next().value;
          assert.equal(
            (await res.json()).error,
            `Cannot read query: (root): Unrecognized key: "${name}"`,
            path,
          );
        }
      }
      assert.equal(hub.size, 0, "no live client was taken in");
      // Without a query they answer as before (rules: 503 without DETECTOR_URL).
      assert.equal((await app.request("/api/system/retention")).status, 200);
      assert.equal((await app.request("/api/system/rules")).status, 503);
      assert.equal((await app.request("/api/live", { method: "HEAD" })).status, 200);
    }, { token: TOKEN });
  },
);

Deno.test(
  "an anomaly, its acknowledgement and the silence mutations refuse a query name too",
  opts,
  async () => {
    await withWebApp(async ({ app, sql }) => {
      await insertAnomalies(sql, [{ id: "q-1", detected_at: new Date() }]);
      const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
      const silence = { matchers: { entity: "checkout" }, duration: "1h", author: "ops" };
      const cases: [string, string, unknown?][] = [
        ["GET", "/api/anomalies/q-1?fields=id"],
        ["POST", "/api/anomalies/q-1/ack?dry_run=true", { by: "ops" }],
        // Read as "try it", it created a real silence.
        ["POST", "/api/silences?dry_run=true", silence],
        ["DELETE", "/api/silences/00000000-0000-0000-0000-000000000000?force=true"],
      ];
      for (const [method, path, body] of cases) {
        const res = await app.request(path, {
          method,
          headers: auth,
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        assert.equal(res.status, 400, `${method} ${path}`);
        const name = new URL(path, "http://x").searchParams.keys().next().value;
        assert.equal(
          (await res.json()).error,
          `Cannot read query: (root): Unrecognized key: "${name}"`,
          path,
        );
      }
      const [row] = await sql`SELECT acknowledged_at FROM anomaly_events WHERE id = 'q-1'`;
      assert.equal(row?.acknowledged_at, null, "not acknowledged");
      assert.equal((await sql`SELECT 1 FROM silences`).length, 0, "no silence created");
      // Without a query they answer as before.
      assert.equal((await app.request("/api/anomalies/q-1")).status, 200);
      const created = await app.request("/api/silences", {
        method: "POST",
        headers: auth,
        body: JSON.stringify(silence),
      });
      assert.equal(created.status, 201);
    }, { token: TOKEN });
  },
);
