/**
 * PostgreSQL out of reach while the web runs (a TCP proxy between them is
 * cut): the API answers 503 with Retry-After, as docs/operations.md says,
 * not 500, and answers again once PostgreSQL is back.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { startUrlProxy, type TcpProxy } from "@vigil/tools/testing/tcp_proxy";
import { getJson, withWebApp } from "./_helpers.ts";

Deno.test({
  name: "the web answers 503 with Retry-After while PostgreSQL is out of reach, 200 again after",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    let proxy: (TcpProxy & { url: string }) | undefined;
    let appSql: postgres.Sql | undefined;
    try {
      await withWebApp(async ({ app }) => {
        assert.equal((await getJson(app, "/api/anomalies")).status, 200);
        proxy!.cut();
        const res = await app.request("/api/anomalies");
        assert.equal(res.status, 503);
        assert.equal(res.headers.get("retry-after"), "5");
        assert.deepEqual(await res.json(), {
          error: "Service unavailable: a database is out of reach; retry later",
        });
        proxy!.restore();
        assert.equal((await getJson(app, "/api/anomalies")).status, 200);
      }, {
        appSql: (url) => {
          proxy = startUrlProxy(url);
          return appSql = postgres(proxy.url, { max: 2, onnotice: () => {}, connect_timeout: 2 });
        },
      });
    } finally {
      await appSql?.end({ timeout: 1 });
      await proxy?.close();
    }
  },
});
