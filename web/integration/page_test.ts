import assert from "node:assert/strict";
import { loadStaticAssets } from "../static.ts";
import { withWebApp } from "./_helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "the page answers at /, /alerts/:id (digest links), /entities/:entity and /api/docs",
  opts,
  async () => {
    const assets = await loadStaticAssets();
    const index = new TextDecoder().decode(assets.index.body);
    await withWebApp(async ({ app }) => {
      for (
        const path of [
          "/",
          "/?id=a-1",
          "/alerts/a-1",
          `/alerts/${encodeURIComponent("g-1/x y")}`,
          `/entities/${encodeURIComponent("team a/checkout")}`,
          "/api/docs",
        ]
      ) {
        const res = await app.request(path);
        assert.equal(res.status, 200, path);
        assert.match(res.headers.get("content-type") ?? "", /^text\/html/, path);
        assert.equal(await res.text(), index, path);
      }
      const long = await app.request(`/alerts/${"x".repeat(501)}`);
      assert.equal(long.status, 400);
      assert.match((await long.json()).error, /^Cannot read path: id/);
      const missing = await app.request("/alerts/");
      assert.equal(missing.status, 404);
    }, { assets, publicRead: false, token: "test-token-0123456789" });
  },
);

Deno.test(
  "GET /favicon.ico, which a browser asks for on the API's JSON, answers the page's icon",
  opts,
  async () => {
    const assets = await loadStaticAssets();
    await withWebApp(async ({ app }) => {
      const res = await app.request("/favicon.ico");
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "image/svg+xml");
      assert.deepEqual(
        new Uint8Array(await res.arrayBuffer()),
        assets.assets.get("favicon.svg")?.body,
      );
    }, { assets, publicRead: false, token: "test-token-0123456789" });
  },
);

Deno.test(
  "the page's files answer 304 to If-None-Match lists and weak ETags (a proxy's gzip weakens them)",
  opts,
  async () => {
    const assets = await loadStaticAssets();
    const etag = assets.assets.get("app.js")!.etag;
    await withWebApp(async ({ app }) => {
      for (
        const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, `"a",W/${etag} , "b"`, "*"]
      ) {
        const res = await app.request("/assets/app.js", {
          headers: { "if-none-match": ifNoneMatch },
        });
        assert.equal(res.status, 304, ifNoneMatch);
        assert.equal(res.headers.get("etag"), etag);
        await res.body?.cancel();
      }
      for (const ifNoneMatch of ['"other"', `"x${etag.slice(1)}`, ""]) {
        const res = await app.request("/assets/app.js", {
          headers: { "if-none-match": ifNoneMatch },
        });
        assert.equal(res.status, 200, ifNoneMatch);
        await res.body?.cancel();
      }
    }, { assets });
  },
);
