import assert from "node:assert/strict";
import { startSilentServer } from "@vigil/tools/testing/silent_server";
import type { Digest } from "../digest.ts";
import { MAX_RETRY_AFTER_MS, postJson } from "./_http.ts";
import { discordMessages } from "./discord.ts";
import { classifySmtpError, createEmailChannel, emailMessage } from "./email.ts";
import { slackMessages } from "./slack.ts";
import { DIGEST_MAX_ROWS } from "../render.ts";
import { createWebhookChannel, webhookPayload } from "./webhook.ts";

const digest: Digest = {
  id: "g-1-x-0",
  kind: "digest",
  route: "default",
  groupKey: "default|",
  groupLabels: {},
  createdAt: Date.parse("2025-03-01T10:22:00Z"),
  channels: ["email"],
  alerts: Array.from({ length: 70 }, (_, i) => ({
    id: `a${i}`,
    status: "firing" as const,
    detected_at: "2025-03-01T10:20:10.000Z",
    event_time: "2025-03-01T10:20:09.000Z",
    type: "metrics" as const,
    rule: "cpu_high",
    severity: "WARNING" as const,
    entity: `svc${i}`,
    title: "CPU",
    message: "cpu high",
    score: null,
    details: {},
    evidence: [],
    resolved_at: null,
    trace_id: null,
    stages: {},
    isNew: true,
    flapping: false,
    resolvedAfterMs: null,
  })),
  flapping: [],
  streamIds: [],
};

const reply = (status: number, body = "", headers: Record<string, string> = {}) => () =>
  Promise.resolve(new Response(status === 204 ? null : body, { status, headers }));
const signal = new AbortController().signal;

Deno.test("postJson() classifies answers: 2xx ok, 429/5xx retryable, 4xx final", async () => {
  assert.deepEqual(await postJson(reply(204), "http://x", {}, { signal }), { ok: true });
  const r429 = await postJson(reply(429, '{"retry_after": 2.5}'), "http://x", {}, { signal });
  assert.equal(r429.ok, false);
  assert.ok(!r429.ok && r429.retryable && r429.retryAfterMs === 2500);
  const hdr = await postJson(reply(429, "slow down", { "retry-after": "3" }), "http://x", {}, {
    signal,
  });
  assert.ok(!hdr.ok && hdr.retryAfterMs === 3000);
  // A wait of decades (a bogus header, a date years ahead) is honoured for an hour at most.
  for (
    const [body, headers] of [
      ["", { "retry-after": "999999999" }],
      ["", { "retry-after": "Fri, 01 Jan 2100 00:00:00 GMT" }],
      ['{"retry_after": 1e12}', {}],
    ] as const
  ) {
    const far = await postJson(reply(429, body, headers), "http://x", {}, { signal });
    assert.ok(!far.ok && far.retryAfterMs === MAX_RETRY_AFTER_MS, JSON.stringify(far));
  }
  const r503 = await postJson(reply(503), "http://x", {}, { signal });
  assert.ok(!r503.ok && r503.retryable && r503.status === 503);
  const r404 = await postJson(reply(404, "no_service"), "http://x", {}, { signal });
  assert.ok(!r404.ok && !r404.retryable);
  const refused = await postJson(
    () => Promise.reject(new TypeError("error sending request for url (https://h/secret)")),
    "https://h/secret",
    {},
    { signal },
  );
  assert.ok(!refused.ok && refused.retryable);
  assert.ok(!refused.ok && !refused.error.includes("secret"), "URL scrubbed");
});

Deno.test("createWebhookChannel() sends the digest id as Idempotency-Key", async () => {
  let seen: Headers | undefined;
  const ch = createWebhookChannel({
    url: "http://hook",
    webBaseUrl: "http://web",
    fetch: (_u, init) => {
      seen = new Headers(init?.headers);
      return Promise.resolve(new Response(null, { status: 200 }));
    },
  });
  assert.deepEqual(await ch.send(digest, signal), { ok: true });
  assert.equal(seen?.get("idempotency-key"), digest.id);
});

Deno.test("slackMessages() splits above 50 blocks and keeps every alert", () => {
  const msgs = slackMessages(digest, { webBaseUrl: "http://web" });
  assert.equal(msgs.length, 2);
  assert.ok(msgs.every((m) => m.blocks.length <= 50));
  const text = JSON.stringify(msgs);
  for (const a of digest.alerts) assert.ok(text.includes(`/alerts/${a.id}|view`));
});

Deno.test("slackMessages() keeps a row's link and time when its log line is longer than a block", () => {
  // Before: the block's text was cut at 3,000 characters from its end: a long failed_message
  // lost the row's "view" link and its time.
  const long = {
    ...digest.alerts[0]!,
    id: "long",
    entity: "e".repeat(400),
    message: "<".repeat(4000),
  };
  const [msg] = slackMessages({ ...digest, alerts: [long] }, { webBaseUrl: "http://web" });
  const row = msg!.blocks.map((b) => (b as { text?: { text: string } }).text?.text ?? "")
    .find((t) => t.includes("cpu_high"))!;
  assert.ok(row.length <= 3000, `${row.length} characters`);
  assert.ok(
    row.endsWith("\n<http://web/alerts/long|view> · 2025-03-01 10:20:09 UTC"),
    row.slice(-80),
  );
  assert.ok(row.includes("&lt;&lt;…"), "the message is cut, visibly");
});

Deno.test("slackMessages() lists DIGEST_MAX_ROWS alerts of a storm and links to the rest", () => {
  // Before: 20,000 alerts made 409 messages.
  const alerts = Array.from({ length: 20_000 }, (_, i) => ({ ...digest.alerts[0]!, id: `s${i}` }));
  const msgs = slackMessages({ ...digest, alerts }, { webBaseUrl: "http://web" });
  assert.ok(msgs.length <= 12, `${msgs.length} messages`);
  const text = JSON.stringify(msgs);
  assert.equal(text.match(/\/alerts\/s\d+\|view/g)?.length, DIGEST_MAX_ROWS);
  assert.ok(
    text.includes(
      "… and 19500 more WARNING alerts not listed here (a digest lists 500 at most): " +
        "<http://web/?severity=WARNING&amp;resolved=false|view them>",
    ),
  );
});

Deno.test("classifySmtpError() retries connection problems and 4xx, not permanent 5xx", () => {
  const refused = classifySmtpError(
    Object.assign(new Error("connect ECONNREFUSED"), { code: "ESOCKET" }),
  );
  assert.ok(!refused.ok && refused.retryable);
  const busy = classifySmtpError(Object.assign(new Error("try later"), { responseCode: 421 }));
  assert.ok(!busy.ok && busy.retryable);
  const rejected = classifySmtpError(
    Object.assign(new Error("no such user"), { responseCode: 550 }),
  );
  assert.ok(!rejected.ok && !rejected.retryable && rejected.status === 550);
});

Deno.test("classifySmtpError() cuts an echoed password, not the letters of a short one", () => {
  // "e" replaced everywhere made "SMTP smtp.***xampl***.com:587: EAUTH: Invalid login: 535 …
  // fail***d": the server's name unreadable, and the password plain to see from the stars.
  const error = Object.assign(new Error("Invalid login: 535 Authentication failed"), {
    code: "EAUTH",
    responseCode: 535,
  });
  const short = classifySmtpError(error, "smtp.example.com:587", "e");
  assert.ok(!short.ok);
  assert.equal(
    short.error,
    "SMTP smtp.example.com:587: EAUTH: Invalid login: 535 Authentication failed",
  );
  const echoed = Object.assign(new Error("Invalid login: 535 bad u/hunter2 (hunter2)"), {
    code: "EAUTH",
    responseCode: 535,
  });
  const cut = classifySmtpError(echoed, "smtp.example.com:587", "hunter2");
  assert.ok(!cut.ok);
  assert.equal(cut.error, "SMTP smtp.example.com:587: EAUTH: Invalid login: 535 bad u/*** (***)");
});

Deno.test("createEmailChannel() names the SMTP server that never answered", async () => {
  // A server that accepts the connection and never greets (a firewall, a wrong port).
  const silent = startSilentServer();
  const ch = createEmailChannel({
    webBaseUrl: "http://web",
    from: "vigil@example.com",
    to: ["ops@example.com"],
    smtp: { host: "127.0.0.1", port: silent.port, secure: false, timeoutMs: 300 },
  });
  try {
    const r = await ch.send(digest, signal);
    assert.ok(!r.ok && r.retryable);
    assert.match(r.error, new RegExp(`^SMTP 127\\.0\\.0\\.1:${silent.port}: ETIMEDOUT: `));
  } finally {
    ch.close();
    await silent.close();
  }
});

Deno.test("createEmailChannel() without SMTP writes <digest id>.eml into the outbox", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ch = createEmailChannel({
      webBaseUrl: "http://web",
      from: "vigil@example.com",
      to: ["ops@example.com"],
      outboxDir: dir,
    });
    assert.equal(ch.mode, "outbox");
    assert.deepEqual(await ch.send(digest, signal), { ok: true });
    assert.deepEqual(await ch.send(digest, signal), { ok: true }, "idempotent");
    const files = [];
    for await (const e of Deno.readDir(dir)) files.push(e.name);
    assert.deepEqual(files, [`${digest.id}.eml`]);
    const eml = await Deno.readTextFile(`${dir}/${digest.id}.eml`);
    assert.match(eml, /^Subject: =\?UTF-8\?Q\?=5BVigil=5D_70_WARNING/m); // encoded: the subject has an em dash
    assert.match(eml, /Message-ID: <g-1-x-0@vigil\.notifier>/);
    assert.match(eml, /Content-Type: text\/plain/);
    assert.match(eml, /Content-Type: text\/html/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Discord, webhook and email show the observed value and threshold, not the score", () => {
  const latency = {
    ...digest.alerts[0]!,
    rule: "latency_high",
    score: 19314.57,
    details: { latency_ms: 19314.57, threshold_ms: 500 },
  };
  const resolved = {
    ...latency,
    id: "r1",
    status: "resolved" as const,
    resolved_at: "2025-03-01T10:21:05.000Z",
    isNew: false,
  };
  const d: Digest = { ...digest, alerts: [latency, resolved] };
  const fields = discordMessages(d, { webBaseUrl: "http://w" })
    .flatMap((m) => m.embeds.flatMap((e) => e.fields ?? []));
  assert.match(fields[0]!.value, /19314\.57 ms vs 500 ms/);
  assert.match(fields[1]!.value, /resolved at 10:21:05 UTC \(fired at 19314\.57 ms vs 500 ms\)/);
  const payload = webhookPayload(d, { webBaseUrl: "http://w" });
  const alerts = payload["alerts"] as Record<string, unknown>[];
  assert.equal(alerts[0]!["value_vs_threshold"], "19314.57 ms vs 500 ms");
  assert.deepEqual(alerts[0]!["figures"], { observed: "19314.57 ms", threshold: "500 ms" });
  assert.equal(alerts[1]!["resolved_value"], null, "not known: null");
  // A resolution whose reading is known: a program gets the value, not only the text.
  const cleared = { ...resolved, resolved_value: 320, resolved_details: { latency_ms: 320 } };
  const [hooked] = webhookPayload({ ...digest, alerts: [cleared] }, { webBaseUrl: "http://w" })[
    "alerts"
  ] as Record<string, unknown>[];
  assert.equal(
    hooked!["value_vs_threshold"],
    "resolved at 320 ms (threshold 500 ms), 10:21:05 UTC",
  );
  assert.equal(hooked!["resolved_value"], 320);
  assert.deepEqual(hooked!["resolved_details"], { latency_ms: 320 });
  const mail = emailMessage(d, { webBaseUrl: "http://w", from: "a@b", to: ["c@d"] });
  assert.match(mail.html, /19314\.57 ms vs 500 ms/);
  assert.doesNotMatch(mail.html + mail.text, /score 19314/);
});

/** A real HTTP receiver on a free loopback port. */
function receiver(handler: (req: Request) => Response | Promise<Response>) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  return { url: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
}

Deno.test("postJson() does not follow a redirect: fetch would re-send the POST as a GET without the digest", async () => {
  const seen: string[] = [];
  const hook = receiver(async (req) => {
    const path = new URL(req.url).pathname;
    seen.push(`${req.method} ${path} ${(await req.text()).length}`);
    // http:// → https:// style: the new address answers 200 to anything, a GET too.
    return path === "/moved"
      ? new Response(null, { status: 302, headers: { location: "/hook" } })
      : new Response("ok");
  });
  try {
    const r = await postJson(fetch, `${hook.url}/moved`, { digest: "d1" }, { signal });
    assert.ok(!r.ok && !r.retryable && r.status === 302, JSON.stringify(r));
    assert.match(r.error, /redirects .*set the channel's URL to the address it redirects to/);
    assert.deepEqual(seen, ["POST /moved 15"], "not sent on as a GET and recorded as delivered");
    assert.deepEqual(await postJson(fetch, `${hook.url}/hook`, {}, { signal }), { ok: true });
  } finally {
    await hook.close();
  }
});

Deno.test("postJson() reads only the start of an error body: a receiver may send one without end", async () => {
  const hook = receiver(() => {
    const chunk = new TextEncoder().encode("overloaded ".repeat(1000));
    // An endless body: 11 kB chunks as fast as they are read.
    const body = new ReadableStream<Uint8Array>({ pull: (c) => c.enqueue(chunk) });
    return new Response(body, { status: 503 });
  });
  try {
    const r = await postJson(fetch, hook.url, {}, { signal: AbortSignal.timeout(20_000) });
    assert.ok(!r.ok && r.retryable && r.status === 503, JSON.stringify(r));
    assert.match(
      r.error,
      /^HTTP 503: overloaded overloaded/,
      "the answer read, not cut off by the timeout",
    );
  } finally {
    await hook.close();
  }
});

Deno.test("Discord and Slack rows show the event time, as email does (a replay of old data, detected today)", () => {
  const base = digest.alerts[0]!;
  const old: Digest = {
    ...digest,
    alerts: [
      { ...base, id: "f", event_time: "2015-06-01T08:00:00.000Z" },
      {
        ...base,
        id: "r",
        status: "resolved",
        event_time: "2015-06-01T08:00:00.000Z",
        resolved_at: "2015-06-01T08:40:00.000Z",
      },
    ],
  };
  const unix = (iso: string) => Date.parse(iso) / 1000;
  const fields = discordMessages(old, { webBaseUrl: "http://web" })
    .flatMap((m) => m.embeds.flatMap((e) => e.fields ?? []));
  assert.equal(fields.length, 2);
  // Dated (`:f`): years before the digest, a bare time of day would read as today's.
  assert.ok(fields[0]!.value.includes(`<t:${unix("2015-06-01T08:00:00Z")}:f>`), fields[0]!.value);
  assert.ok(fields[1]!.value.includes(`<t:${unix("2015-06-01T08:40:00Z")}:f>`), fields[1]!.value);
  const texts = slackMessages(old, { webBaseUrl: "http://web" })
    .flatMap((m) => m.blocks.map((b) => JSON.stringify(b)));
  // In UTC, written as the email writes it (an ISO stamp with milliseconds read as a machine's).
  assert.ok(texts.some((t) => t.includes("view> · 2015-06-01 08:00:00 UTC")), "the firing row");
  assert.ok(texts.some((t) => t.includes("view> · 2015-06-01 08:40:00 UTC")), "the resolved row");
  assert.ok(!texts.some((t) => t.includes("2025-03-01T10:20:10")), "not the detector's clock");
});

Deno.test("the webhook retries a 409 to its Idempotency-Key: the receiver still works on the first copy", async () => {
  // A receiver de-duplicating by Idempotency-Key as the IETF draft says: while a key's first
  // request is being processed, a retry of it is answered 409; once done, its answer again.
  const done = new Map<string, Response>();
  const busy = new Set<string>();
  const hook = receiver(async (req) => {
    const key = req.headers.get("idempotency-key") ?? "";
    await req.arrayBuffer();
    if (done.has(key)) return done.get(key)!.clone();
    if (busy.has(key)) return Response.json({ error: "request in progress" }, { status: 409 });
    busy.add(key);
    await new Promise((r) => setTimeout(r, 600)); // slower than the attempt's timeout
    done.set(key, new Response("stored"));
    busy.delete(key);
    return done.get(key)!.clone();
  });
  const ch = createWebhookChannel({ url: hook.url, webBaseUrl: "http://web" });
  try {
    const first = await ch.send(digest, AbortSignal.timeout(200));
    assert.ok(!first.ok && first.retryable, JSON.stringify(first));
    const retry = await ch.send(digest, AbortSignal.timeout(200));
    // Before: a 4xx, failed for good, though the first copy was still being taken in.
    assert.ok(!retry.ok && retry.retryable && retry.status === 409, JSON.stringify(retry));
    await new Promise((r) => setTimeout(r, 600));
    assert.deepEqual(await ch.send(digest, AbortSignal.timeout(1000)), { ok: true });
  } finally {
    await hook.close();
  }
});

Deno.test("postJson() says why a receiver cannot be reached (connection refused), without its URL", async () => {
  // Deno's fetch rejects with "fetch failed" and the reason in `cause`: a webhook on a stopped
  // server was recorded as "request failed: fetch failed", refused and unknown host alike.
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const r = await postJson(fetch, `http://127.0.0.1:${port}/hook?token=s3cret`, {}, { signal });
  assert.ok(!r.ok && r.retryable, JSON.stringify(r));
  assert.match(r.error, /^request failed: /);
  assert.match(r.error, /Connection refused/);
  assert.doesNotMatch(r.error, /s3cret|127\.0\.0\.1/, r.error);
});

Deno.test("postJson() keeps the URL's secret path out of an error body that echoes it", async () => {
  // Express' default answer, and many frameworks': "Cannot POST <path>". The path of a Discord,
  // Slack or generic webhook is its secret; the error text goes to the log and the database.
  const hook = receiver(async (req) => {
    await req.body?.cancel();
    const u = new URL(req.url);
    const echo = `Cannot POST ${u.pathname}${u.search} (${u.pathname}; ${u.search})`;
    return new Response(`<pre>${echo}</pre>`, { status: 500 });
  });
  try {
    for (const path of ["/api/webhooks/1/tok-h47-xyz?wait=true", "/hook/p-h47-xyz?k=q-h47-xyz"]) {
      const r = await postJson(fetch, `${hook.url}${path}`, {}, { signal });
      assert.ok(!r.ok && r.retryable && r.status === 500, JSON.stringify(r));
      assert.match(r.error, /^HTTP 500: <pre>Cannot POST /);
      assert.doesNotMatch(r.error, /h47-xyz/, r.error);
    }
  } finally {
    await hook.close();
  }
});
