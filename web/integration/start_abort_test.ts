/**
 * A web stopped while Redis does not answer stops: it logged "stopped" on
 * SIGTERM and went on waiting for its live-alerts subscription (a mistyped
 * REDIS_URL port), until killed.
 */
import assert from "node:assert/strict";
import { silentLogger } from "@vigil/tools/testing/log";
import { withPg } from "@vigil/tools/testing/pg";
import { parseWebConfig } from "../config.ts";
import { startWebServer } from "../server.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test("a start waiting for an unreachable Redis ends when it is stopped", opts, async () => {
  await withPg(async ({ url }) => {
    const config = parseWebConfig({
      DATABASE_URL: url,
      REDIS_URL: "redis://127.0.0.1:1",
      VIGIL_PREFIX: "start-abort:",
      WEB_PORT: "0",
    });
    const controller = new AbortController();
    const start = startWebServer(config, { log: silentLogger(), signal: controller.signal });
    start.catch(() => {});
    await new Promise((r) => setTimeout(r, 1000));
    controller.abort(new Error("SIGTERM"));
    const outcome = await Promise.race([
      start.then(() => "started", () => "ended"),
      new Promise((r) => setTimeout(() => r("still waiting"), 5000)),
    ]);
    assert.equal(outcome, "ended");
  });
});
