/**
 * Every API route refuses a query name it does not take, as `/api/anomalies?foo=1` does:
 * also the routes that take none (`/api/system/*`, `/api/live`, `/api/notifications/test`),
 * which used to ignore it, so `/api/system/rules?rule=amount_high` or
 * `/api/live?type=logs` answered everything as if it were filtered.
 */
import assert from "node:assert/strict";
import { withWebApp } from "./_helpers.ts";

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
