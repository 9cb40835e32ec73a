import assert from "node:assert/strict";
import { z } from "zod";
import { silentLogger } from "@vigil/tools/testing/log";
import { createBaseApp } from "./app.ts";
import { findUnstorableText, jsonBody, parseOrThrow, query } from "./validate.ts";

const itemSchema = z.strictObject({ name: z.string().min(1), count: z.number().int().min(0) });
const listSchema = z.strictObject({ limit: z.coerce.number().int().min(1).max(100).default(10) });

function app(bodyLimitBytes = 4096) {
  const a = createBaseApp({ log: silentLogger(), bodyLimitBytes });
  a.post("/items", jsonBody(itemSchema), (c) => {
    const item = c.req.valid("json");
    return c.json({ name: item.name, count: item.count });
  });
  a.post(
    "/strict",
    jsonBody(itemSchema, { invalidStatus: 422, prefix: "", notJsonMessage: "body must be JSON" }),
    (c) => c.json(c.req.valid("json")),
  );
  a.get("/items", query(listSchema), (c) => c.json({ limit: c.req.valid("query").limit }));
  return a;
}

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  app().request(path, { method: "POST", body, headers });

Deno.test("jsonBody() hands the parsed body to the handler, whatever the Content-Type", async () => {
  const plain = await post("/items", JSON.stringify({ name: "a", count: 2 }));
  assert.deepEqual(await plain.json(), { name: "a", count: 2 });
  const typed = await post("/items", JSON.stringify({ name: "b", count: 0 }), {
    "content-type": "application/json",
  });
  assert.deepEqual(await typed.json(), { name: "b", count: 0 });
});

Deno.test("jsonBody() answers 400 naming the field, or the configured status and wording", async () => {
  const bad = await post("/items", JSON.stringify({ name: "", count: -1 }));
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /^Cannot read body: name: .*; count: /);
  const notJson = await post("/items", "{nope", { "content-type": "application/json" });
  assert.equal(notJson.status, 400);
  assert.deepEqual(await notJson.json(), { error: "Cannot read body: not valid JSON" });
  const strict = await post("/strict", JSON.stringify({ name: "a", count: 1.5 }));
  assert.equal(strict.status, 422);
  assert.match((await strict.json()).error, /^count: /);
  const strictNotJson = await post("/strict", "nope");
  assert.equal(strictNotJson.status, 400);
  assert.deepEqual(await strictNotJson.json(), { error: "body must be JSON" });
});

Deno.test("jsonBody() answers 400 to NUL in any string of the body", async () => {
  const res = await post("/items", JSON.stringify({ name: "a\u0000b", count: 1 }));
  assert.equal(res.status, 400);
  assert.deepEqual(await res.json(), {
    error: "Cannot read body: name: must not contain NUL characters",
  });
  const nul = "must not contain NUL characters";
  assert.deepEqual(findUnstorableText({ a: [{ b: "x" }, { c: "\u0000" }] }), {
    path: ["a", "1", "c"],
    problem: nul,
  });
  assert.deepEqual(findUnstorableText({ a: { ["k\u0000"]: 1 } }), {
    path: ["a", "(key)"],
    problem: nul,
  });
  assert.equal(findUnstorableText({ a: "tab\tand\nnewline are fine", b: "\ud83d\ude00" }), null);
});

Deno.test("jsonBody() answers 400 to a lone surrogate in any string of the body", async () => {
  // JSON text may escape a lone surrogate; PostgreSQL refuses it ("invalid input syntax for type json").
  const res = await post("/items", '{"name": "a\\ud800", "count": 1}');
  assert.equal(res.status, 400);
  assert.deepEqual(await res.json(), {
    error: "Cannot read body: name: lone surrogate U+D800 at position 1 is not allowed",
  });
  assert.deepEqual(findUnstorableText([["x", "\udfffy"]]), {
    path: ["0", "1"],
    problem: "lone surrogate U+DFFF at position 0 is not allowed",
  });
});

Deno.test("jsonBody() answers 400 to a body that is not UTF-8, instead of storing U+FFFD", async () => {
  // Raw bytes of a lone surrogate (CESU-8), an overlong "/" and bytes no UTF-8 has: a lossy
  // decode turned each into U+FFFD, so an acknowledgement or a silence stored "��" silently.
  const utf8 = (text: string) => new TextEncoder().encode(text);
  for (const bad of [[0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xff, 0xfe]]) {
    const body = new Uint8Array([...utf8('{"name": "a'), ...bad, ...utf8('", "count": 1}')]);
    const res = await app().request("/items", { method: "POST", body });
    assert.equal(res.status, 400, `bytes ${bad}`);
    assert.deepEqual(await res.json(), { error: "Cannot read body: not valid UTF-8" });
  }
  const strict = await app().request("/strict", {
    method: "POST",
    body: new Uint8Array([...utf8('{"name": "'), 0xff, ...utf8('", "count": 1}')]),
  });
  assert.equal(strict.status, 400);
  assert.deepEqual(await strict.json(), { error: "not valid UTF-8" });
  // A byte order mark is still allowed (and skipped), as are real non-ASCII characters.
  const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...utf8('{"name": "é😀", "count": 1}')]);
  const ok = await app().request("/items", { method: "POST", body: bom });
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { name: "é😀", count: 1 });
});

Deno.test("jsonBody() answers 400, not a stack overflow, to a body nested 30,000 deep", async () => {
  const big = (body: string) => app(1 << 20).request("/items", { method: "POST", body });
  const deep = '{"a":'.repeat(30_000) + "1" + "}".repeat(30_000);
  const res = await big(deep);
  assert.equal(res.status, 400);
  assert.match((await res.json()).error, /^Cannot read body: /);
  const deepArray = "[".repeat(30_000) + '"\\u0000"' + "]".repeat(30_000);
  const nul = await big(deepArray);
  assert.equal(nul.status, 400);
  assert.match((await nul.json()).error, /^Cannot read body: 0\.0\.0\..*: must not contain NUL/);
});

Deno.test("jsonBody() answers 400 to a key repeated in one object, as the bridge does for events", async () => {
  const res = await post("/items", '{"name": "alice", "count": 1, "name": "mallory"}');
  assert.equal(res.status, 400);
  assert.deepEqual(await res.json(), { error: 'Cannot read body: duplicate key "name"' });
  const escaped = await post("/strict", '{"name": "a", "count": 1, "n\\u0061me": "b"}');
  assert.equal(escaped.status, 400, "the same key however it is escaped");
  assert.deepEqual(await escaped.json(), { error: 'duplicate key "name"' });
  const ok = await post("/items", '{"name": "a", "count": 1}');
  assert.equal(ok.status, 200);
});

Deno.test("query() validates the query string with defaults and clear errors", async () => {
  assert.deepEqual(await (await app().request("/items")).json(), { limit: 10 });
  assert.deepEqual(await (await app().request("/items?limit=5")).json(), { limit: 5 });
  const bad = await app().request("/items?limit=0");
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /^Cannot read query: limit: /);
  const unknown = await app().request("/items?lmit=5");
  assert.equal(unknown.status, 400);
  assert.match((await unknown.json()).error, /lmit/);
});

Deno.test("parseOrThrow() throws an HTTP error with the status and text asked for", () => {
  assert.equal(parseOrThrow(z.string(), "a", "id"), "a");
  assert.throws(
    () => parseOrThrow(z.string().min(2), "a", "id"),
    (e: Error & { status?: number }) => e.status === 400 && /^Cannot read id: /.test(e.message),
  );
});
