import assert from "node:assert/strict";
import type { Digest, DigestAlert } from "../digest.ts";
import {
  createDiscordChannel,
  DISCORD_LIMITS,
  discordMessages,
  discordText,
  embedChars,
} from "./discord.ts";
import { DIGEST_MAX_ROWS } from "../render.ts";

function digest(n: number, messageLength = 40): Digest {
  const alerts: DigestAlert[] = Array.from({ length: n }, (_, i) => ({
    id: `a${i}`,
    status: i % 7 === 6 ? "resolved" : "firing",
    detected_at: "2025-03-01T10:20:00.000Z",
    event_time: "2025-03-01T10:20:00.000Z",
    type: "metrics",
    rule: `rule_${i}`,
    severity: (["CRITICAL", "WARNING", "INFO"] as const)[i % 3]!,
    entity: `svc-${i}`,
    title: "t",
    message: "m".repeat(messageLength),
    score: null,
    details: { value: i, threshold: 10 },
    evidence: [],
    resolved_at: i % 7 === 6 ? "2025-03-01T10:30:00.000Z" : null,
    trace_id: null,
    stages: {},
    isNew: true,
    flapping: false,
    resolvedAfterMs: i % 7 === 6 ? 600_000 : null,
  }));
  return {
    id: "g-1",
    kind: "digest",
    route: "default",
    groupKey: "default|",
    groupLabels: {},
    createdAt: Date.parse("2025-03-01T10:21:00Z"),
    channels: ["discord"],
    alerts,
    flapping: [{ type: "metrics", rule: "rule_1", entity: "svc-1", changes: 6 }],
    streamIds: [],
  };
}

function checkLimits(msgs: ReturnType<typeof discordMessages>): void {
  for (const m of msgs) {
    assert.ok(m.embeds.length <= DISCORD_LIMITS.embedsPerMessage, "≤10 embeds");
    assert.ok(m.embeds.reduce((s, e) => s + embedChars(e), 0) <= 6000, "≤6000 chars");
    assert.ok(m.content.length <= DISCORD_LIMITS.content);
    for (const e of m.embeds) {
      assert.ok((e.fields?.length ?? 0) <= DISCORD_LIMITS.fieldsPerEmbed, "≤25 fields");
      assert.ok((e.title?.length ?? 0) <= DISCORD_LIMITS.title);
      for (const f of e.fields ?? []) {
        assert.ok(f.name.length <= DISCORD_LIMITS.fieldName);
        assert.ok(f.value.length <= DISCORD_LIMITS.fieldValue);
      }
    }
  }
}

Deno.test("discordMessages() keeps a small digest in one message", () => {
  const msgs = discordMessages(digest(5), { webBaseUrl: "http://x" });
  assert.equal(msgs.length, 1);
  assert.ok(!msgs[0]!.content.includes("part"));
  checkLimits(msgs);
});

Deno.test("discordMessages() splits a large digest within every limit and drops nothing", async (t) => {
  for (const [n, len] of [[60, 40], [300, 40], [120, 900], [26, 5000]] as const) {
    await t.step(`${n} alerts, messages of ${len} chars`, () => {
      const msgs = discordMessages(digest(n, len), { webBaseUrl: "http://x" });
      checkLimits(msgs);
      const fields = msgs.flatMap((m) => m.embeds.flatMap((e) => e.fields ?? []));
      assert.equal(fields.length, n, "every alert is a field");
      for (let i = 0; i < n; i++) {
        assert.equal(fields.filter((f) => f.name.startsWith(`rule_${i} `)).length, 1);
      }
      if (msgs.length > 1) {
        msgs.forEach((m, i) => assert.match(m.content, new RegExp(`part ${i + 1}/${msgs.length}`)));
      }
      assert.equal(msgs[msgs.length - 1]!.embeds.at(-1)!.footer?.text, "digest g-1");
    });
  }
  assert.ok(discordMessages(digest(300), { webBaseUrl: "http://x" }).length > 1);
});

Deno.test("discordMessages() colours embeds by severity and names flapping entities", () => {
  const msgs = discordMessages(digest(9), { webBaseUrl: "http://x" });
  const embeds = msgs.flatMap((m) => m.embeds);
  assert.equal(embeds[0]!.title, "Flapping (digest-only)");
  assert.match(embeds[0]!.description!, /rule_1 on svc-1/);
  const colours = Object.fromEntries(embeds.slice(1).map((e) => [e.title!.split(" ")[0], e.color]));
  assert.deepEqual(colours, {
    CRITICAL: 0xe74c3c,
    WARNING: 0xf39c12,
    INFO: 0x3498db,
    Resolved: 0x2ecc71,
  });
});

Deno.test("discordMessages() dates an alert more than a day older than its digest (a replay)", () => {
  const d = digest(2);
  // A replayed event of 2024: Discord's `:t` tag shows a bare `14:03`, read as today's.
  d.alerts[1] = { ...d.alerts[1]!, event_time: "2024-03-01T14:03:00.000Z" };
  const values = discordMessages(d, { webBaseUrl: "http://x" }).flatMap((m) =>
    m.embeds.flatMap((e) => e.fields ?? []).map((f) => f.value)
  );
  const tag = (v: string | undefined) => /<t:(\d+):(\w)>/.exec(v ?? "")?.slice(1);
  // The digest's own time: the time of day (in each reader's zone, as Discord shows it).
  assert.deepEqual(tag(values.find((v) => v.includes("/alerts/a0"))), [
    String(Date.parse("2025-03-01T10:20:00Z") / 1000),
    "t",
  ]);
  // Long before: date and time.
  assert.deepEqual(tag(values.find((v) => v.includes("/alerts/a1"))), [
    String(Date.parse("2024-03-01T14:03:00Z") / 1000),
    "f",
  ]);
});

Deno.test("discordMessages() dates an alert of hours before its digest (a repeat): a bare time reads as today's", () => {
  const d = digest(3);
  // A "(still firing)" repeat at 10:21 UTC lists an alert fired at 14:03 UTC the day before, 20 h
  // earlier: a bare `14:03` (`:t`, in the reader's zone) reads as this afternoon's, still to come.
  d.kind = "repeat";
  d.alerts[1] = { ...d.alerts[1]!, event_time: "2025-02-28T14:03:00.000Z" };
  // And one fired 90 min before: in Asia/Kolkata 10:21 UTC is 15:51, 08:51 UTC 14:21, the same
  // day; in America/Los_Angeles 02:21 and 00:51; in Pacific/Chatham (+13:45) 00:06 on Mar 2 and
  // 22:36 on Mar 1: which day depends on the reader, so the date is written.
  d.alerts[2] = { ...d.alerts[2]!, event_time: "2025-03-01T08:51:00.000Z" };
  const values = discordMessages(d, { webBaseUrl: "http://x" }).flatMap((m) =>
    m.embeds.flatMap((e) => e.fields ?? []).map((f) => f.value)
  );
  const style = (id: string) =>
    /<t:\d+:(\w)>/.exec(values.find((v) => v.includes(`/alerts/${id}`)) ?? "")?.[1];
  assert.equal(style("a0"), "t"); // a minute before the digest: the time of day
  assert.equal(style("a1"), "f");
  assert.equal(style("a2"), "f");
});

Deno.test("discordText() keeps a log line from formatting the embed or masking a link", () => {
  assert.equal(
    discordText("[click](http://evil.example) **now** <@123> <t:0>\n# big"),
    "\\[click\\]\\(http://evil.example\\) \\*\\*now\\*\\* \\<@123\\> \\<t:0\\> ↵ \\# big",
  );
  assert.equal(discordText("- not a list"), "\\- not a list");
  const d = digest(1);
  d.alerts[0]!.message = "see [dashboard](http://evil.example)\nline two";
  const field = discordMessages(d, { webBaseUrl: "http://web" })[0]!.embeds
    .flatMap((e) => e.fields ?? [])[0]!;
  assert.ok(field.value.startsWith("see \\[dashboard\\]\\(http://evil.example\\) ↵ line two\n"));
  // The only link is the view link Vigil writes.
  assert.deepEqual(field.value.match(/(?<!\\)\[[^\]]*\]\(/g), ["[view]("]);
});

Deno.test("discordMessages() lists DIGEST_MAX_ROWS alerts of a storm and links to the rest", () => {
  // Before: 20,000 alerts made 800 messages (Discord takes 5 per 2 s per webhook).
  const storm = { ...digest(20_000), flapping: [] };
  const msgs = discordMessages(storm, { webBaseUrl: "http://x/" });
  checkLimits(msgs);
  assert.ok(msgs.length <= 25, `${msgs.length} messages`);
  const fields = msgs.flatMap((m) => m.embeds.flatMap((e) => e.fields ?? []));
  const rows = fields.filter((f) => f.name !== "…");
  assert.equal(rows.length, DIGEST_MAX_ROWS);
  // 20,000 alerts: every 7th resolved, the rest CRITICAL/WARNING/INFO in turn; the 500 rows
  // are CRITICAL ones, so every section says what it leaves out, with a link.
  const notes = fields.filter((f) => f.name === "…").map((f) => f.value);
  assert.equal(notes.length, 4);
  assert.match(
    notes[0]!,
    /^and 5214 more CRITICAL alerts not listed here \(a digest lists 500 at most\): \[view them\]\(http:\/\/x\/\?severity=CRITICAL&resolved=false\)$/,
  );
  assert.match(notes[3]!, /^and 2857 more resolved alerts .*\(http:\/\/x\/\?resolved=true\)$/);
  assert.match(
    msgs[0]!.content,
    /^\*\*\[Vigil\] 5714 CRITICAL, 5715 WARNING, 5714 INFO, 2857 resolved/,
  );
});

/**
 * Discord's 429, as its API versions answer it: the unversioned URL the app copies
 * (`/api/webhooks/…`) is API v6, whose `retry_after` (and `Retry-After`) are milliseconds;
 * v8 and later send seconds (discord-api-docs issues 2360 and 4722).
 */
function discord429(asked: string[], waitMs: number) {
  return (input: string | URL | Request) => {
    const url = new URL(input instanceof Request ? input.url : input);
    asked.push(url.pathname + url.search);
    const version = Number(url.pathname.match(/^\/api\/v(\d+)\//)?.[1] ?? 6);
    const retryAfter = version >= 8 ? waitMs / 1000 : waitMs;
    return Promise.resolve(Response.json(
      { message: "You are being rate limited.", retry_after: retryAfter, global: false },
      { status: 429, headers: { "retry-after": String(Math.ceil(retryAfter)) } },
    ));
  };
}

Deno.test("the Discord channel waits what Discord asks, also for the unversioned URL the app copies", async () => {
  for (
    const [url, path] of [
      ["https://discord.com/api/webhooks/1/tok", "/api/v10/webhooks/1/tok?wait=true"],
      ["https://discordapp.com/api/webhooks/1/tok?thread_id=7", "/api/v10/webhooks/1/tok"],
      ["https://canary.discord.com/api/v9/webhooks/1/tok", "/api/v9/webhooks/1/tok?wait=true"],
    ] as const
  ) {
    const asked: string[] = [];
    const ch = createDiscordChannel({
      url,
      webBaseUrl: "http://web",
      fetch: discord429(asked, 300),
    });
    const r = await ch.send(digest(1), new AbortController().signal);
    // Before: v6's 300 (ms) was read as 300 s, holding every later digest for 5 minutes.
    assert.ok(!r.ok && r.retryable && r.retryAfterMs === 300, `${url}: ${JSON.stringify(r)}`);
    assert.ok(asked[0]!.startsWith(path), `${url} posted to ${asked[0]}`);
  }
  // A wait longer than 1,000 s in seconds (v8+) is not taken for milliseconds.
  const ch = createDiscordChannel({
    url: "https://discord.com/api/webhooks/1/tok",
    webBaseUrl: "http://web",
    fetch: discord429([], 1_500_000),
  });
  const r = await ch.send(digest(1), new AbortController().signal);
  assert.ok(!r.ok && r.retryAfterMs === 1_500_000, JSON.stringify(r));
});

/**
 * A local Discord standing in for a webhook's bucket: each answer says `X-RateLimit-Remaining`
 * (0 when `remaining` is 0) and `X-RateLimit-Reset-After`; a post before the reset is answered 429.
 */
function discordBucket(headers: { remaining: number; resetAfter: number } | null) {
  const posts: { at: number; status: number }[] = [];
  let resetAt = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.body?.cancel();
    const at = performance.now();
    if (at < resetAt) {
      posts.push({ at, status: 429 });
      const retryAfter = (resetAt - at) / 1000;
      return Response.json({ message: "You are being rate limited.", retry_after: retryAfter }, {
        status: 429,
      });
    }
    posts.push({ at, status: 200 });
    if (!headers) return Response.json({ id: "1" });
    if (headers.remaining === 0) resetAt = at + headers.resetAfter * 1000;
    return Response.json({ id: "1" }, {
      headers: {
        "x-ratelimit-limit": "5",
        "x-ratelimit-remaining": String(headers.remaining),
        "x-ratelimit-reset-after": String(headers.resetAfter),
        "x-ratelimit-bucket": "abcd",
      },
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/api/webhooks/1/tok`,
    posts,
    close: () => server.shutdown(),
  };
}

/** A digest of 60 alerts in 3 messages or more, and the parts recorded as sent. */
function parted(url: string) {
  const options = { url, webBaseUrl: "http://web", budget: 4000 };
  const parts = discordMessages(digest(60), options).length;
  assert.ok(parts >= 3, `${parts} parts`);
  const sent: number[] = [];
  const progress = { partsSent: 0, onPartSent: (n: number) => Promise.resolve(void sent.push(n)) };
  return { channel: createDiscordChannel(options), parts, sent, progress };
}

Deno.test("the Discord channel waits X-RateLimit-Reset-After before the next part when none remain", async () => {
  const hook = discordBucket({ remaining: 0, resetAfter: 0.5 });
  try {
    const { channel, parts, progress } = parted(hook.url);
    const r = await channel.send(digest(60), AbortSignal.timeout(10_000), progress);
    // Before: the next part was posted at once, answered 429, and the attempt ended as a retry.
    assert.deepEqual(r, { ok: true, parts }, JSON.stringify(hook.posts));
    assert.deepEqual(hook.posts.map((p) => p.status), Array(parts).fill(200), "no 429 provoked");
    for (let i = 1; i < parts; i++) {
      const gap = hook.posts[i]!.at - hook.posts[i - 1]!.at;
      assert.ok(gap >= 500, `part ${i + 1} came ${gap} ms after part ${i}`);
    }
  } finally {
    await hook.close();
  }
});

Deno.test("the Discord channel posts parts back to back while its bucket has room or says nothing", async () => {
  for (const headers of [null, { remaining: 3, resetAfter: 2 }]) {
    const hook = discordBucket(headers);
    try {
      const { channel, parts, progress } = parted(hook.url);
      const start = performance.now();
      const r = await channel.send(digest(60), AbortSignal.timeout(10_000), progress);
      assert.deepEqual(r, { ok: true, parts });
      assert.equal(hook.posts.length, parts);
      assert.ok(performance.now() - start < 1500, `${JSON.stringify(headers)}: no pause`);
    } finally {
      await hook.close();
    }
  }
});

Deno.test("the Discord channel never waits for its bucket past the attempt's signal", async () => {
  const hook = discordBucket({ remaining: 0, resetAfter: 30 });
  try {
    const { channel, parts, sent, progress } = parted(hook.url);
    const start = performance.now();
    const r = await channel.send(digest(60), AbortSignal.timeout(300), progress);
    assert.ok(performance.now() - start < 2000, "ended with the attempt");
    assert.ok(!r.ok && r.retryable, JSON.stringify(r));
    assert.match(r.error, new RegExp(`^part 2/${parts}: .*rate limit`));
    assert.deepEqual(sent, [1], "part 1 is recorded; the retry resumes at part 2");
    assert.deepEqual(hook.posts.map((p) => p.status), [200], "no 429 provoked");
  } finally {
    await hook.close();
  }
});
