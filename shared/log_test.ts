import assert from "node:assert/strict";
import { createLogger, createRepeatFilter, type LoggerOptions, redact } from "./log.ts";
import { traceFields } from "./telemetry.ts";

function capture(options: Partial<LoggerOptions> = {}) {
  const lines: string[] = [];
  const log = createLogger({ service: "detector", write: (l) => lines.push(l), ...options });
  const parsed = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { log, lines, parsed };
}

Deno.test("createLogger() writes one JSON object per line with ts, level, service, msg", () => {
  const { log, lines, parsed } = capture();
  log.info("started", { port: 9103, ok: true, big: 12n });
  assert.equal(lines.length, 1);
  assert.ok(!lines[0]!.includes("\n"));
  const [line] = parsed();
  assert.deepEqual(Object.keys(line!).slice(0, 4), ["ts", "level", "service", "msg"]);
  assert.equal(line!.level, "info");
  assert.equal(line!.service, "detector");
  assert.equal(line!.msg, "started");
  assert.equal(line!.port, 9103);
  assert.equal(line!.big, "12");
  assert.ok(!Number.isNaN(Date.parse(String(line!.ts))));
});

Deno.test("createLogger() filters by level (default info)", async (t) => {
  const table: [LoggerOptions["level"], string[]][] = [
    [undefined, ["info", "warn", "error"]],
    ["debug", ["debug", "info", "warn", "error"]],
    ["warn", ["warn", "error"]],
    ["error", ["error"]],
  ];
  for (const [level, expected] of table) {
    await t.step(`level ${level ?? "(default)"}`, () => {
      const { log, parsed } = capture(level ? { level } : {});
      log.debug("d");
      log.info("i");
      log.warn("w");
      log.error("e");
      assert.deepEqual(parsed().map((l) => l.level), expected);
    });
  }
});

Deno.test("Logger.with() binds fields to every line of the child only", () => {
  const { log, parsed } = capture();
  const child = log.with({ stream: "vigil:events:logs", group: "detector" });
  const grandchild = child.with({ group: "other", consumer: "c1" });
  child.info("a");
  grandchild.info("b", { consumer: "c2" });
  log.info("c");
  const [a, b, c] = parsed();
  assert.equal(a!.stream, "vigil:events:logs");
  assert.equal(a!.group, "detector");
  assert.equal(b!.stream, "vigil:events:logs");
  assert.equal(b!.group, "other");
  assert.equal(b!.consumer, "c2");
  assert.equal(c!.stream, undefined);
  assert.equal(c!.group, undefined);
});

Deno.test("Logger.with(traceFields()) puts trace and span ids on the line", () => {
  const { log, parsed } = capture();
  const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  log.with(traceFields(tp)).info("stored anomaly");
  log.with(traceFields(undefined)).info("no trace");
  const [traced, plain] = parsed();
  assert.equal(traced!.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.equal(traced!.span_id, "00f067aa0ba902b7");
  assert.equal("trace_id" in plain!, false);
});

Deno.test("createLogger() never lets a field replace ts, level, service or msg", () => {
  const { log, parsed } = capture();
  log.with({ service: "api-gateway" }).warn("cpu high", { level: "CRITICAL", msg: "x", ts: 1 });
  const [line] = parsed();
  assert.equal(line!.service, "detector");
  assert.equal(line!.level, "warn");
  assert.equal(line!.msg, "cpu high");
  assert.equal(line!.field_service, "api-gateway");
  assert.equal(line!.field_level, "CRITICAL");
  assert.equal(line!.field_msg, "x");
  assert.equal(line!.field_ts, 1);
});

Deno.test("createLogger() redacts secret fields and URL credentials", () => {
  const { log, lines, parsed } = capture();
  log.with({ smtp_password: "bound-secret" }).error("Cannot send", {
    password: "hunter2",
    SMTP_PASS: "p4ss",
    token: "tok-123",
    discordWebhookUrl: "https://discord.com/api/webhooks/1/abc",
    Authorization: "Bearer xyz",
    api_key: "k-1",
    apiKey: "k-2",
    client_secret: "s-1",
    nested: { deeper: { password: "n-1" }, list: [{ token: "n-2" }] },
    url: "postgres://vigil:pgpass@db:5432/vigil",
    redis: "redis://:redispass@cache:6379",
    userOnly: "https://ghp_tokenonly@github.example/x",
    query: "https://api.example/v1?token=qtok&page=2&access_token=atok",
    discord: "posting to https://discord.com/api/webhooks/123456/webhooktok-en_1 failed",
    discordV10: "posting to https://discord.com/api/v10/webhooks/123456/v10tok-en_1 failed",
    slack: "https://hooks.slack.com/services/T000/B000/slacktok",
    error: new Error("connect to smtp://mailer:smtppass@mail:25 refused"),
    empty_password: null,
  });
  const text = lines.join("\n");
  for (
    const secret of [
      "bound-secret",
      "hunter2",
      "p4ss",
      "tok-123",
      "abc",
      "Bearer",
      "k-1",
      "k-2",
      "s-1",
      "n-1",
      "n-2",
      "pgpass",
      "redispass",
      "ghp_tokenonly",
      "qtok",
      "atok",
      "webhooktok",
      "v10tok",
      "slacktok",
      "smtppass",
    ]
  ) {
    assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
  }
  const [line] = parsed();
  assert.equal(line!.password, "***");
  assert.equal(line!.smtp_password, "***");
  assert.equal(line!.url, "postgres://***@db:5432/vigil");
  assert.equal(line!.query, "https://api.example/v1?token=***&page=2&access_token=***");
  assert.equal(
    line!.discord,
    "posting to https://discord.com/api/webhooks/123456/*** failed",
  );
  assert.deepEqual(line!.error, {
    name: "Error",
    message: "connect to smtp://***@mail:25 refused",
  });
  // Absent secrets stay absent rather than looking set.
  assert.equal(line!.empty_password, null);
});

Deno.test("redact() keeps ordinary values and cuts off deep nesting instead of leaking it", () => {
  assert.equal(redact("http://localhost:8080/api/health"), "http://localhost:8080/api/health");
  assert.equal(redact("user@example.com wrote"), "user@example.com wrote");
  assert.deepEqual(redact({ a: 1, b: [true, "x"] }), { a: 1, b: [true, "x"] });
  const deep = { l1: { l2: { l3: { l4: { l5: { password: "deep-secret" } } } } } };
  assert.ok(!JSON.stringify(redact(deep)).includes("deep-secret"));
  // Circular values do not throw.
  const circular: Record<string, unknown> = { name: "loop" };
  circular.self = circular;
  const { log, parsed } = capture();
  log.info("circular", { circular });
  assert.equal((parsed()[0]!.circular as Record<string, unknown>).name, "loop");
});

Deno.test("redact() takes linear time on long text without a URL (event data in a dead letter)", () => {
  // A scheme-like run (letters, digits, `+.-`) with no `://` after it: the userinfo pattern tried
  // every start in the run and scanned to its end, 3 s for 64 KiB (a log message, an extra field).
  for (const text of ["a".repeat(65_536), "a.".repeat(32_768), "x://".repeat(16_384)]) {
    const started = performance.now();
    assert.equal(redact(text), text);
    const ms = performance.now() - started;
    assert.ok(ms < 200, `${ms.toFixed(0)} ms for ${JSON.stringify(text.slice(0, 8))}…`);
  }
  assert.equal(
    redact("see ftp://u:p@host/x and git+ssh://key@h"),
    "see ftp://***@host/x and git+ssh://***@h",
  );
});

Deno.test("createRepeatFilter() writes a repeated line once a minute, saying how many it held back", () => {
  let t = 0;
  const seen = createRepeatFilter(60_000, () => t);
  const key = "Connection Connection error: connect ECONNREFUSED 127.0.0.1:9092";
  assert.deepEqual(seen(key), { write: true, held: 0 });
  const written = [];
  for (t = 1000; t < 150_000; t += 1000) {
    const r = seen(key);
    if (r.write) written.push([t, r.held]);
  }
  assert.deepEqual(written, [[60_000, 59], [120_000, 59]]);
  assert.deepEqual(seen("another line"), { write: true, held: 0 }, "each line has its own count");
});
