import assert from "node:assert/strict";
import { isHealthy } from "./healthcheck.ts";

Deno.test("isHealthy() is true for 2xx and false for 503, 404 and a closed port", async () => {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/health") return Response.json({ status: "ok" });
    if (path === "/degraded") return Response.json({ status: "degraded" }, { status: 503 });
    return new Response("no", { status: 404 });
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    assert.equal(await isHealthy(`${base}/health`), true);
    assert.equal(await isHealthy(`${base}/degraded`), false);
    assert.equal(await isHealthy(`${base}/nope`), false);
  } finally {
    await server.shutdown();
  }
  assert.equal(await isHealthy(`${base}/health`, 1000), false);
});
