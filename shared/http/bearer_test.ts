import assert from "node:assert/strict";
import { silentLogger } from "@vigil/tools/testing/log";
import { createBaseApp } from "./app.ts";
import { requireBearer } from "./bearer.ts";

const TOKEN = "s3cret-token_0123456789";

function app(token: string | undefined) {
  const a = createBaseApp({ log: silentLogger(), bodyLimitBytes: 1024 });
  a.post("/do", requireBearer({ token }), (c) => c.json({ done: true }));
  return a;
}

Deno.test("requireBearer() lets the configured token through", async () => {
  const res = await app(TOKEN).request("/do", {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(res.status, 200);
  const lower = await app(TOKEN).request("/do", {
    method: "POST",
    headers: { authorization: `bearer ${TOKEN}` },
  });
  assert.equal(lower.status, 200);
});

Deno.test("requireBearer() answers 401 with JSON and a challenge to a missing, malformed or wrong token", async (t) => {
  for (
    const [name, headers] of [
      ["missing", {}],
      ["wrong", { authorization: "Bearer wrong-token-xxxxxxxxxxxx" }],
      ["prefix of the token", { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
      ["other scheme", { authorization: `Basic ${btoa("a:b")}` }],
      ["malformed", { authorization: "Bearer two words" }],
      ["empty", { authorization: "Bearer " }],
    ] as const
  ) {
    await t.step(name, async () => {
      const res = await app(TOKEN).request("/do", { method: "POST", headers });
      assert.equal(res.status, 401);
      assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="vigil"');
      assert.deepEqual(await res.json(), {
        error: "Cannot accept this request: missing or wrong bearer token",
      });
    });
  }
});

Deno.test("requireBearer() without a configured token answers 503 saying what to set", async () => {
  const res = await app(undefined).request("/do", {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(res.status, 503);
  assert.deepEqual(await res.json(), {
    error: "Cannot accept this request: set VIGIL_API_TOKEN to enable it",
  });
});

Deno.test("requireBearer() refuses a token a bearer header cannot carry", () => {
  assert.throws(() => requireBearer({ token: "has space" }), RangeError);
  assert.throws(() => requireBearer({ token: "a$b" }), RangeError);
});
