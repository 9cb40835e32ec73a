import assert from "node:assert/strict";
import { Hono } from "hono";
import { silentLogger } from "@vigil/tools/testing/log";
import { createBaseApp, deadline, guardRequests, httpError, urlProblem } from "./app.ts";

function app() {
  const a = createBaseApp({ log: silentLogger(), bodyLimitBytes: 1024 });
  a.get("/items/:id", (c) => c.json({ id: c.req.param("id"), q: c.req.query() }));
  a.post("/items", async (c) => c.json({ bytes: (await c.req.arrayBuffer()).byteLength }));
  return a;
}

/** A body of `size` bytes sent in 1 KiB chunks; `pulled()` says how many bytes were read. */
function countingBody(size: number) {
  let pulled = 0;
  const chunk = new Uint8Array(1024).fill(97);
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= size) return controller.close();
      pulled += chunk.length;
      controller.enqueue(chunk);
    },
  });
  return { body, pulled: () => pulled };
}

Deno.test("createBaseApp() answers 400 to control characters in the query or path, never 500", async (t) => {
  const a = app();
  for (
    const [url, message] of [
      ["/items/1?x=%00", /Cannot read query: x: must not contain control characters/],
      ["/items/1?entity=a%00b", /entity: must not contain control characters/],
      ["/items/1?x=%1F", /control characters/],
      ["/items/1?x=%7F", /control characters/],
      ["/items/1?%00=1", /\(name\): must not contain control characters/],
      ["/items/a%00b", /Cannot read path: must not contain control characters/],
      ["/items/1?x=%ED%A0%80", /x: malformed percent-encoding or not UTF-8/], // a lone surrogate
      ["/items/1?x=%zz", /malformed percent-encoding/],
      ["/items/%FF", /Cannot read path: malformed/],
    ] as const
  ) {
    await t.step(url, async () => {
      const res = await a.request(url);
      assert.equal(res.status, 400);
      assert.match((await res.json()).error, message);
    });
  }
  await t.step("ordinary percent-encoding passes", async () => {
    const res = await a.request("/items/a%20b?x=%C3%A9t%C3%A9&y=a+b&z=%2F");
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { id: "a b", q: { x: "été", y: "a b", z: "/" } });
  });
});

Deno.test("urlProblem() accepts a URL without percent signs at once", () => {
  assert.equal(urlProblem("http://x/items/1?a=b&c"), null);
  assert.equal(
    urlProblem("http://x/a?b=%0A#frag"),
    "Cannot read query: b: must not contain control characters",
  );
});

Deno.test("createBaseApp() answers 413 to a body over the limit without reading it all", async () => {
  const a = app();
  const ok = await a.request("/items", { method: "POST", body: "x".repeat(1024) });
  assert.deepEqual(await ok.json(), { bytes: 1024 });
  // Declared length over the limit: refused before reading.
  const declared = await a.request("/items", {
    method: "POST",
    body: "x".repeat(2000),
    headers: { "content-length": "2000" },
  });
  assert.equal(declared.status, 413);
  assert.deepEqual(await declared.json(), { error: "Cannot read body: larger than 1024 bytes" });
  // Streamed (no length): counted as it comes, dropped past the limit.
  const stream = countingBody(1024 * 1024);
  const streamed = await a.request("/items", { method: "POST", body: stream.body });
  assert.equal(streamed.status, 413);
  assert.ok(stream.pulled() <= 4096, `read ${stream.pulled()} of 1 MiB`);
});

Deno.test("createBaseApp() applies the limit on every route, unknown ones included", async () => {
  const a = app();
  const res = await a.request("/nowhere", {
    method: "POST",
    body: "x".repeat(2000),
    headers: { "content-length": "2000" },
  });
  assert.equal(res.status, 413);
  const missing = await a.request("/nowhere");
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), { error: "Not found" });
});

Deno.test("createBaseApp() answers HTTP errors as JSON and hides unexpected ones", async () => {
  const logged: string[] = [];
  const log = { ...silentLogger(), error: (msg: string) => logged.push(msg) };
  const a = createBaseApp({ log, bodyLimitBytes: 1024 });
  a.get("/teapot", () => {
    throw httpError(418, "Cannot brew: I am a teapot");
  });
  a.get("/boom", () => {
    throw new Error("secret detail");
  });
  const teapot = await a.request("/teapot");
  assert.equal(teapot.status, 418);
  assert.deepEqual(await teapot.json(), { error: "Cannot brew: I am a teapot" });
  const boom = await a.request("/boom");
  assert.equal(boom.status, 500);
  assert.deepEqual(await boom.json(), { error: "Internal error; see the server log" });
  assert.deepEqual(logged, ["request failed"]);
});

Deno.test("createBaseApp() writes an error's unshown characters as escapes, whichever route quoted the input", async () => {
  const a = createBaseApp({ log: silentLogger(), bodyLimitBytes: 1024 });
  // As zod quotes a query name it does not know: JSON.stringify keeps U+202E, which reordered the
  // rest of the message in a terminal or a page.
  a.get("/quote", (c) => {
    throw httpError(400, `Unrecognized key: ${JSON.stringify(c.req.query("k"))}`);
  });
  const res = await a.request(`/quote?k=${encodeURIComponent("fo\u202eo\u2028")}`);
  assert.equal(res.status, 400);
  assert.deepEqual(await res.json(), { error: 'Unrecognized key: "fo\\u202eo\\u2028"' });
});

Deno.test("createBaseApp() answers 503 with Retry-After when a database is out of reach", async () => {
  const warned: string[] = [];
  const errors: string[] = [];
  const log = {
    ...silentLogger(),
    warn: (msg: string) => warned.push(msg),
    error: (msg: string) => errors.push(msg),
  };
  const a = createBaseApp({ log, bodyLimitBytes: 1024 });
  const down = (message: string, code?: string) => Object.assign(new Error(message), { code });
  const cases: Error[] = [
    down("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED"), // PostgreSQL stopped
    down("write CONNECTION_CLOSED 127.0.0.1:5432", "CONNECTION_CLOSED"), // postgres.js
    down("terminating connection due to administrator command", "57P01"), // PostgreSQL shutdown
    down("the database system is starting up", "57P03"),
    new Error("Connection is closed."), // ioredis
  ];
  cases.forEach((error, i) =>
    a.get(`/down/${i}`, () => {
      throw error;
    })
  );
  a.get("/data-error", () => {
    throw down("invalid input syntax for type json", "22P02");
  });
  for (let i = 0; i < cases.length; i++) {
    const res = await a.request(`/down/${i}`);
    assert.equal(res.status, 503, cases[i]!.message);
    assert.equal(res.headers.get("retry-after"), "5");
    assert.deepEqual(await res.json(), {
      error: "Service unavailable: a database is out of reach; retry later",
    });
  }
  assert.equal((await a.request("/data-error")).status, 500, "a data error is not an outage");
  assert.equal(warned.length, cases.length);
  assert.deepEqual(errors, ["request failed"]);
});

Deno.test("createBaseApp() answers 503 and logs what to fix when PostgreSQL refuses DATABASE_URL while running", async () => {
  // A password rotated or a role dropped while the web runs answered 500 "Internal error", as a
  // bug would, where PostgreSQL out of reach answers 503.
  const errors: { msg: string; fields: Record<string, unknown> }[] = [];
  const log = {
    ...silentLogger(),
    error: (msg: string, fields: Record<string, unknown> = {}) => errors.push({ msg, fields }),
  };
  const a = createBaseApp({ log, bodyLimitBytes: 1024 });
  a.get("/q", () => {
    throw Object.assign(new Error('password authentication failed for user "vigil"'), {
      code: "28P01",
    });
  });
  const res = await a.request("/q");
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("retry-after"), "5");
  assert.deepEqual(await res.json(), {
    error: "Service unavailable: the database refuses this server's connection settings",
  });
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.msg, "request failed: PostgreSQL refuses the connection settings");
  assert.match(
    String(errors[0]!.fields.problem),
    /^PostgreSQL refused DATABASE_URL: password authentication failed .*: fix the user or password/,
  );
});

Deno.test("deadline() answers 503 with Retry-After when the handler is still waiting", async () => {
  const warned: unknown[] = [];
  const log = { ...silentLogger(), warn: (_: string, f?: unknown) => warned.push(f) };
  const a = createBaseApp({ log, bodyLimitBytes: 1024 });
  // postgres.js reconnecting without end: the query neither answers nor fails.
  const never = Promise.withResolvers<Response>();
  a.get("/waits", deadline(50), () => never.promise);
  a.get("/quick", deadline(50), (c) => c.json({ ok: true }));
  const res = await a.request("/waits");
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("retry-after"), "5");
  assert.deepEqual(await res.json(), {
    error: "Service unavailable: a database is out of reach; retry later",
  });
  assert.match(JSON.stringify(warned), /"ms":50,"name":"DeadlineError"/, "logged as a warning");
  assert.deepEqual(await (await a.request("/quick")).json(), { ok: true });
});

Deno.test("guardRequests() checks a request once when apps are mounted on each other", async () => {
  const outer = createBaseApp({ log: silentLogger(), bodyLimitBytes: 100 });
  const inner = createBaseApp({ log: silentLogger(), bodyLimitBytes: 10 });
  inner.post("/in", async (c) => c.json({ bytes: (await c.req.arrayBuffer()).byteLength }));
  outer.route("/", inner);
  const res = await outer.request("/in", { method: "POST", body: "x".repeat(50) });
  assert.deepEqual(await res.json(), { bytes: 50 }, "the outer app's limit applies");
});

Deno.test("guardRequests() rejects an invalid limit with a RangeError", () => {
  assert.throws(() => guardRequests({ bodyLimitBytes: 0 }), RangeError);
  assert.throws(() => new Hono().use(guardRequests({ bodyLimitBytes: 1.5 })), RangeError);
});

Deno.test("createBaseApp() logs a body cut off by the client as a warning, not an error", async () => {
  const logged: string[] = [];
  const log = {
    ...silentLogger(),
    warn: (msg: string) => logged.push(`warn ${msg}`),
    error: (msg: string) => logged.push(`error ${msg}`),
  };
  const a = createBaseApp({ log, bodyLimitBytes: 1024 });
  a.post("/read", () => {
    throw new Deno.errors.BadResource("Cannot read body as underlying resource unavailable");
  });
  const res = await a.request("/read", { method: "POST", body: "x" });
  assert.equal(res.status, 400);
  assert.deepEqual(await res.json(), { error: "Cannot read request: the connection closed" });
  assert.deepEqual(logged, ["warn request cut off"]);
});

Deno.test("createBaseApp() answers HEAD with its GET's Content-Length (404 included)", async () => {
  const a = app();
  for (const path of ["/items/1?x=y", "/nowhere"]) {
    const get = await a.request(path);
    const size = (await get.arrayBuffer()).byteLength;
    const head = await a.request(path, { method: "HEAD" });
    assert.equal(head.status, get.status, path);
    assert.equal(head.body, null, path);
    // Without it the server wrote `Content-Length: 0` for every HEAD.
    assert.equal(head.headers.get("content-length"), String(size), path);
  }
});

Deno.test("createBaseApp() takes a body without Content-Length and writes nothing on stderr", async () => {
  // A DELETE or OPTIONS without a body, or a chunked POST, is read and made again by the body
  // limit; reading the served request's `signal` made Deno.serve print a raw (non-JSON)
  // "legacy behavior" warning on stderr.
  const code = `
    const { createBaseApp } = await import(${JSON.stringify(import.meta.resolve("./app.ts"))});
    const { serve } = await import(${JSON.stringify(import.meta.resolve("./serve.ts"))});
    const { silentLogger } = await import(${
    JSON.stringify(import.meta.resolve("@vigil/tools/testing/log"))
  });
    const app = createBaseApp({ log: silentLogger(), bodyLimitBytes: 1024 });
    app.post("/items", async (c) => c.json({ bytes: (await c.req.arrayBuffer()).byteLength }));
    app.delete("/items/:id", (c) => c.json({ id: c.req.param("id") }));
    const server = serve(app, { port: 0, log: silentLogger() });
    const url = "http://127.0.0.1:" + server.port;
    const chunked = new ReadableStream({ start(c) { c.enqueue(new Uint8Array(5)); c.close(); } });
    const answers = [
      await fetch(url + "/items/1", { method: "DELETE" }),
      await fetch(url + "/items", { method: "POST", body: chunked }),
    ];
    console.log(JSON.stringify(await Promise.all(answers.map((r) => r.json()))));
    await server.close();
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  assert.equal(decoder.decode(out.stderr), "");
  assert.equal(out.code, 0);
  assert.deepEqual(JSON.parse(decoder.decode(out.stdout)), [{ id: "1" }, { bytes: 5 }]);
});

Deno.test("createBaseApp() answers 405 to TRACE and TRACK on a real server, never 500", async () => {
  // Deno.serve hands these methods over with a body stream, and the guard made the request
  // again from it: `new Request()` throws "Method is forbidden" for them (Fetch standard), so
  // every service answered 500 and logged an error to any scanner's TRACE.
  const errors: string[] = [];
  const log = { ...silentLogger(), error: (msg: string) => errors.push(msg) };
  const a = createBaseApp({ log, bodyLimitBytes: 1024 });
  a.get("/items/:id", (c) => c.json({ id: c.req.param("id") }));
  const { serve } = await import("./serve.ts");
  const server = serve(a, { port: 0, log: silentLogger() });
  try {
    for (const method of ["TRACE", "TRACK", "trace"]) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      const request = `${method} /items/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;
      await conn.write(new TextEncoder().encode(request));
      const answer = await new Response(conn.readable).text();
      const [head = "", body = ""] = answer.split("\r\n\r\n");
      assert.match(head, /^HTTP\/1\.1 405 /, method);
      assert.match(head, /^content-type: application\/json/im, method);
      assert.match(head, /^allow: GET, HEAD, POST, DELETE\r?$/im, method);
      assert.deepEqual(JSON.parse(body), {
        error: `Cannot accept method ${method}: not served here`,
      });
    }
  } finally {
    await server.close();
  }
  assert.deepEqual(errors, []);
});

Deno.test("a wrong method on a served path answers 405 with Allow on a real server, an unknown path 404", async () => {
  const outer = createBaseApp({ log: silentLogger(), bodyLimitBytes: 1024 });
  outer.get("/health", (c) => c.json({ ok: true }));
  outer.get("/files/:name", (c) => c.req.param("name") === "a" ? c.text("a") : c.notFound());
  outer.route("/", app()); // a mounted app: its routes count too
  const { serve } = await import("./serve.ts");
  const server = serve(outer, { port: 0, log: silentLogger() });
  const base = `http://127.0.0.1:${server.port}`;
  try {
    for (
      const [method, path, status, allow] of [
        ["POST", "/health", 405, "GET, HEAD"],
        ["DELETE", "/items/7", 405, "GET, HEAD"],
        // The path is quoted with its unshown characters escaped: a bidirectional control reordered
        // the message after it in a terminal.
        ["DELETE", "/items/%E2%80%AEx", 405, "GET, HEAD"],
        ["PUT", "/items", 405, "POST"],
        ["GET", "/items", 405, "POST"],
        ["HEAD", "/items", 405, "POST"],
        ["HEAD", "/health", 200, null],
        ["GET", "/files/b", 404, null], // the handler's own 404: GET is allowed there
        ["POST", "/nope", 404, null],
      ] as const
    ) {
      const res = await fetch(`${base}${path}`, { method });
      assert.equal(res.status, status, `${method} ${path}`);
      assert.equal(res.headers.get("allow"), allow, `${method} ${path}`);
      const body = await res.text();
      if (status === 405 && method !== "HEAD") {
        assert.deepEqual(JSON.parse(body), {
          error: `Cannot accept method ${method} on ${
            decodeURIComponent(path).replace("\u202e", "\\u202e")
          }: use ${allow}`,
        });
      }
    }
  } finally {
    await server.close();
  }
});

/** The first bytes a real server at `port` answers to `head` followed by 64 KiB of body. */
async function firstAnswer(port: number, head: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(head));
    await conn.write(new Uint8Array(65536).fill(97));
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    return new TextDecoder().decode(buf.subarray(0, n ?? 0));
  } finally {
    conn.close();
  }
}

Deno.test("a GET, HEAD or DELETE over the body limit answers 413 on a real server, its body unread", async () => {
  const a = app();
  a.delete("/items/:id", (c) => c.json({ deleted: c.req.param("id") }));
  const { serve } = await import("./serve.ts");
  const server = serve(a, { port: 0, log: silentLogger() });
  try {
    for (const method of ["GET", "HEAD", "DELETE"]) {
      // 100 MB announced, 64 KiB sent: the answer must not wait for the rest.
      const head = `${method} /items/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n`;
      const answer = await firstAnswer(server.port, head);
      assert.match(answer, /^HTTP\/1\.1 413 /, `${method}: ${answer}`);
    }
  } finally {
    await server.close();
  }
});

Deno.test("a GET or HEAD announcing its Content-Length twice over the body limit answers 413 too", async () => {
  const { serve } = await import("./serve.ts");
  const server = serve(app(), { port: 0, log: silentLogger() });
  try {
    for (const method of ["GET", "HEAD"]) {
      // The same value twice is one length (RFC 9112 6.3): the header reads "104857600, 104857600".
      const length = "Content-Length: 104857600\r\n";
      const head = `${method} /items/1 HTTP/1.1\r\nHost: x\r\n${length}${length}\r\n`;
      const answer = await firstAnswer(server.port, head);
      assert.match(answer, /^HTTP\/1\.1 413 /, `${method}: ${answer}`);
    }
  } finally {
    await server.close();
  }
});

Deno.test("createBaseApp() answers 405 to get, Head or post (methods are case-sensitive) on a real server, never 500", async () => {
  // Deno.serve hands a method it does not know over with a body stream, and `new Request()`
  // normalises `get` to GET, then refuses a body for it: every service answered 500 and logged it.
  const errors: string[] = [];
  const log = { ...silentLogger(), error: (msg: string) => errors.push(msg) };
  const a = createBaseApp({ log, bodyLimitBytes: 1024 });
  a.get("/items/:id", (c) => c.json({ id: c.req.param("id") }));
  a.post("/items/:id", (c) => c.json({ id: c.req.param("id") }));
  const { serve } = await import("./serve.ts");
  const server = serve(a, { port: 0, log: silentLogger() });
  try {
    // `post` was served as POST with a chunked body (the request remade) and 405 with a length.
    const bodies = [
      "",
      "Content-Length: 2\r\n\r\n{}",
      "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n",
    ];
    for (const [method, body] of [["get", ""], ["Head", ""], ...bodies.map((b) => ["post", b])]) {
      // Raw: fetch() would send GET, HEAD and POST.
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      const head = `${method} /items/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n`;
      const request = body ? head + body + "\r\n" : head + "\r\n";
      await conn.write(new TextEncoder().encode(request));
      const answer = await new Response(conn.readable).text();
      assert.match(answer, /^HTTP\/1\.1 405 /, `${method} ${JSON.stringify(body)}: ${answer}`);
    }
  } finally {
    await server.close();
  }
  assert.deepEqual(errors, []);
});
