import assert from "node:assert/strict";
import { z } from "zod";
import {
  boolVar,
  brokerListVar,
  claimIdleVar,
  commonEnv,
  ConfigError,
  durationVar,
  formatDuration,
  httpServerOptions,
  kafkaEnv,
  parseEnv,
  pathVar,
  portVar,
  resolveKafkaBrokers,
  urlVar,
} from "./config.ts";

const schema = z.object({
  ...commonEnv,
  ...kafkaEnv,
  PORT: portVar.default(9103),
  WINDOW: durationVar.default(60_000),
  DRY_RUN: boolVar.default(false),
  SMTP_URL: urlVar(["smtp:", "smtps:"], "smtp://localhost:1025").optional(),
  SMTP_PASSWORD: z.string().min(12).optional(),
});

function errorOf(env: Record<string, string | undefined>): string {
  try {
    parseEnv("detector", schema, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.name, "ConfigError");
    return error.message;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("parseEnv() fills defaults and returns a frozen object", () => {
  const config = parseEnv("detector", schema, {});
  assert.equal(config.REDIS_URL, "redis://127.0.0.1:6379");
  assert.equal(config.DATABASE_URL, "postgres://postgres@127.0.0.1:5432/postgres");
  assert.equal(config.VIGIL_PREFIX, "vigil:");
  assert.equal(config.LOG_LEVEL, "info");
  assert.equal(config.HTTP_HOST, "127.0.0.1");
  assert.equal(config.KAFKA_BROKERS, undefined);
  assert.equal(config.KAFKA_CLIENT_ID, "vigil");
  assert.equal(config.PORT, 9103);
  assert.equal(config.WINDOW, 60_000);
  assert.equal(config.DRY_RUN, false);
  assert.ok(Object.isFrozen(config));
});

Deno.test("parseEnv() reads set values and ignores unknown variables", () => {
  const config = parseEnv("detector", schema, {
    REDIS_URL: "rediss://cache:6380",
    LOG_LEVEL: "DEBUG",
    PORT: "0",
    WINDOW: "5m",
    DRY_RUN: "yes",
    KAFKA_BROKERS: "kafka:9092, kafka2:9092",
    HOME: "/root",
  });
  assert.equal(config.REDIS_URL, "rediss://cache:6380");
  assert.equal(config.LOG_LEVEL, "debug");
  assert.equal(config.PORT, 0);
  assert.equal(config.WINDOW, 300_000);
  assert.equal(config.DRY_RUN, true);
  assert.deepEqual(config.KAFKA_BROKERS, ["kafka:9092", "kafka2:9092"]);
  assert.equal("HOME" in config, false);
});

Deno.test("parseEnv() treats an empty or blank string as unset", () => {
  const config = parseEnv("detector", schema, { PORT: "", REDIS_URL: "  ", LOG_LEVEL: undefined });
  assert.equal(config.PORT, 9103);
  assert.equal(config.REDIS_URL, "redis://127.0.0.1:6379");
  assert.equal(config.LOG_LEVEL, "info");
});

Deno.test("parseEnv() errors name the service and every bad variable", async (t) => {
  const cases: [string, Record<string, string>, RegExp][] = [
    [
      "bad URL",
      { REDIS_URL: "localhost:6379" },
      /^Cannot start detector: REDIS_URL is not a valid URL \(expected e\.g\. redis:\/\/127\.0\.0\.1:6379\) \(got "localhost:6379"\)$/,
    ],
    [
      "no database number",
      { REDIS_URL: "redis://cache:6379/main" },
      /^Cannot start detector: REDIS_URL names no database number after the host \(e\.g\. redis:\/\/127\.0\.0\.1:6379\/0\) \(got "redis:\/\/cache:6379\/main"\)$/,
    ],
    ["wrong protocol", { DATABASE_URL: "mysql://db/x" }, /DATABASE_URL is not a valid URL/],
    ["bad level", { LOG_LEVEL: "verbose" }, /LOG_LEVEL .*\(got "verbose"\)/],
    ["port too big", { PORT: "70000" }, /PORT .*\(got "70000"\)/],
    ["port not a number", { PORT: "http" }, /PORT /],
    ["bad duration", { WINDOW: "5 minutes" }, /WINDOW is not a duration/],
    ["negative duration", { WINDOW: "-5s" }, /WINDOW is not a duration/],
    ["bad boolean", { DRY_RUN: "maybe" }, /DRY_RUN is not a boolean/],
    [
      "bad broker",
      { KAFKA_BROKERS: "kafka" },
      /KAFKA_BROKERS is not a list of host:port.*bad entry "kafka"/,
    ],
    ["bad prefix", { VIGIL_PREFIX: "has space" }, /VIGIL_PREFIX must be 1-64/],
  ];
  for (const [name, env, expected] of cases) {
    await t.step(name, () => assert.match(errorOf(env), expected));
  }
  const both = errorOf({ REDIS_URL: "nope", PORT: "-1" });
  assert.match(both, /REDIS_URL .*; PORT /);
});

Deno.test("parseEnv() never echoes secrets in its errors", () => {
  const short = errorOf({ SMTP_PASSWORD: "hunter2" });
  assert.match(short, /SMTP_PASSWORD .*\(got "\*\*\*"\)/);
  assert.ok(!short.includes("hunter2"));
  const url = errorOf({ SMTP_URL: "http://mailer:s3cret@mail:25" });
  assert.match(url, /SMTP_URL is not a valid URL/);
  assert.ok(!url.includes("s3cret"), url);
});

Deno.test("parseEnv() never echoes the password of a mistyped URL", async (t) => {
  const cases: [string, string][] = [
    ["postgres//vigil:s3cret@db:5432/vigil", "***@db:5432/vigil"], // the colon forgotten
    ["redis://:s3cret word@cache:99999", "redis://***@cache:99999"], // a space, a bad port
    ["redis://vigil:s3c@ret@cache:99999", "redis://***@cache:99999"], // an unencoded @
  ];
  for (const [value, shown] of cases) {
    await t.step(value, () => {
      const message = errorOf({ REDIS_URL: value });
      assert.match(message, /REDIS_URL is not a valid URL/);
      assert.ok(!/s3c|ret/.test(message), message);
      assert.ok(message.includes(`(got "${shown}")`), message);
    });
  }
  // Values without credentials are shown as they are.
  assert.match(errorOf({ REDIS_URL: "cache:6379" }), /\(got "cache:6379"\)/);
});

Deno.test("durationVar accepts ms, s, m, h, d, several in a row, and bare milliseconds", async (t) => {
  const cases: [string | number, number][] = [
    ["500", 500],
    ["500ms", 500],
    ["1.5s", 1500],
    ["30 s", 30_000],
    ["5m", 300_000],
    ["4h", 14_400_000],
    ["1d", 86_400_000],
    ["0", 0],
    [250, 250],
    // Whole milliseconds: Redis refuses `PX 1234.5` ("value is not an integer").
    ["1.2345s", 1235],
    ["0.0001h", 360],
    ["10.4", 10],
    [2.5, 3],
    // Several units in a row, as Prometheus and Alertmanager write them.
    ["1h30m", 5_400_000],
    ["1d 12h", 129_600_000],
    ["2m30s500ms", 150_500],
    [" 1h 0.5m ", 3_630_000],
  ];
  for (const [input, ms] of cases) {
    await t.step(String(input), () => assert.equal(durationVar.parse(input), ms));
  }
  for (
    const bad of ["", "5 minutes", "1w", "-1s", "s", "1.s", "1h30", "h1", "1hm", "1h,30m", "1h-30m"]
  ) {
    assert.equal(durationVar.safeParse(bad).success, false, bad);
  }
  // As Prometheus reads them: each unit once, the largest first ("5m5m" was 10 minutes).
  for (const bad of ["5m5m", "30m1h", "1s1m", "500ms1s", "1h 1h"]) {
    assert.equal(durationVar.safeParse(bad).success, false, bad);
  }
  assert.equal(durationVar.safeParse(-1).success, false);
});

Deno.test("formatDuration() writes what durationVar reads: one unit, or several in a row", () => {
  // A message once said `1445m` for a day and 5 minutes.
  const cases: [number, string][] = [
    [0, "0"],
    [250, "250ms"],
    [30_000, "30s"],
    [300_000, "5m"],
    [14_400_000, "4h"],
    [86_400_000, "1d"],
    [86_700_000, "1d5m"],
    [14_700_000, "4h5m"],
    [150_500, "2m30s500ms"],
  ];
  for (const [ms, text] of cases) {
    assert.equal(formatDuration(ms), text);
    assert.equal(durationVar.parse(text), ms);
  }
});

Deno.test("brokerListVar splits, trims and validates host:port entries", () => {
  assert.deepEqual(brokerListVar.parse("a:1,b.example:9092"), ["a:1", "b.example:9092"]);
  assert.deepEqual(brokerListVar.parse(" a:1 , ,b:2 "), ["a:1", "b:2"]);
  assert.equal(brokerListVar.safeParse("").success, false);
  assert.equal(brokerListVar.safeParse(",").success, false);
  assert.equal(brokerListVar.safeParse("a:1,b").success, false);
  assert.equal(brokerListVar.safeParse("kafka://a:1").success, false);
});

Deno.test("boolVar reads the usual spellings", () => {
  for (const s of ["1", "true", "TRUE", "yes", "on"]) assert.equal(boolVar.parse(s), true, s);
  for (const s of ["0", "false", "no", "off"]) assert.equal(boolVar.parse(s), false, s);
  assert.equal(boolVar.safeParse("2").success, false);
});

Deno.test("resolveKafkaBrokers() prefers the configured list", async () => {
  assert.deepEqual(await resolveKafkaBrokers(["kafka:9092"]), ["kafka:9092"]);
});

Deno.test("parseEnv() reads the HTTP guard's variables: defaults, 0 = off, clear errors", () => {
  const defaults = parseEnv("detector", schema, {});
  assert.deepEqual(httpServerOptions(defaults), {
    hostname: "127.0.0.1",
    headerTimeoutMs: 10_000,
    bodyTimeoutMs: 30_000,
    maxHeaderBytes: 32_768,
  });
  const set = parseEnv("detector", schema, {
    HTTP_HOST: "0.0.0.0",
    HTTP_HEADER_TIMEOUT: "30s",
    HTTP_BODY_TIMEOUT: "0",
    HTTP_MAX_HEADER_BYTES: "65536",
  });
  assert.deepEqual(httpServerOptions(set), {
    hostname: "0.0.0.0",
    headerTimeoutMs: 30_000,
    bodyTimeoutMs: 0,
    maxHeaderBytes: 65_536,
  });
  assert.equal(parseEnv("detector", schema, { HTTP_HEADER_TIMEOUT: "0" }).HTTP_HEADER_TIMEOUT, 0);
  assert.match(
    errorOf({ HTTP_HEADER_TIMEOUT: "5ms" }),
    /HTTP_HEADER_TIMEOUT must be 0 \(off\) or between 100ms and 10m \(got "5ms"\)/,
  );
  assert.match(errorOf({ HTTP_HEADER_TIMEOUT: "soon" }), /HTTP_HEADER_TIMEOUT is not a duration/);
  assert.match(errorOf({ HTTP_BODY_TIMEOUT: "2h" }), /HTTP_BODY_TIMEOUT must be 0 \(no limit\) or/);
  assert.match(
    errorOf({ HTTP_MAX_HEADER_BYTES: "100" }),
    /HTTP_MAX_HEADER_BYTES must be at least 1024/,
  );
});

Deno.test("claimIdleVar: at least a second (0 would take entries in progress from their consumer)", () => {
  assert.equal(claimIdleVar.parse("1s"), 1000);
  assert.equal(claimIdleVar.parse("30s"), 30_000);
  for (const v of ["0", "500ms"]) assert.equal(claimIdleVar.safeParse(v).success, false, v);
});

Deno.test("parseEnv() refuses a database number in REDIS_URL with a Redis Cluster (it has only 0)", () => {
  const nodes = "10.0.0.1:7000,10.0.0.2:7000";
  assert.equal(
    errorOf({ REDIS_URL: "redis://:pw@x:6379/3", REDIS_CLUSTER_NODES: nodes }),
    'Cannot start detector: REDIS_URL names database 3, but a Redis Cluster (REDIS_CLUSTER_NODES) has only database 0: remove "/3" from REDIS_URL',
  );
  for (const url of ["redis://:pw@x:6379", "redis://x:6379/", "redis://x:6379/0"]) {
    assert.equal(
      parseEnv("detector", schema, { REDIS_URL: url, REDIS_CLUSTER_NODES: nodes }).REDIS_URL,
      url,
    );
  }
  assert.equal(
    parseEnv("detector", schema, { REDIS_URL: "redis://x:6379/3" }).REDIS_URL,
    "redis://x:6379/3",
  );
});

Deno.test("brokerListVar refuses a port outside 1-65535 (kafkajs and ioredis retried it forever)", () => {
  for (const bad of ["a:0", "a:65536", "a:99999", "a:9092,b:70000"]) {
    assert.equal(brokerListVar.safeParse(bad).success, false, bad);
  }
  assert.match(
    errorOf({ KAFKA_BROKERS: "kafka:99999" }),
    /KAFKA_BROKERS .*bad entry "kafka:99999"/,
  );
  assert.match(
    errorOf({ REDIS_CLUSTER_NODES: "10.0.0.1:7000,10.0.0.2:70000" }),
    /REDIS_CLUSTER_NODES .*bad entry "10.0.0.2:70000"/,
  );
  assert.deepEqual(brokerListVar.parse("a:1,b:65535"), ["a:1", "b:65535"]);
});

Deno.test('DATABASE_URL with an IPv6 literal stops the service (postgres.js connected to host "[" forever)', () => {
  assert.match(
    errorOf({ DATABASE_URL: "postgres://postgres@[::1]:5432/postgres" }),
    /^Cannot start detector: DATABASE_URL names an IPv6 address, which the PostgreSQL client cannot connect to from a URL: use a host name/,
  );
  assert.equal(
    parseEnv("detector", schema, { DATABASE_URL: "postgres://u:p@db.example:5433/vigil" })
      .DATABASE_URL,
    "postgres://u:p@db.example:5433/vigil",
  );
});

Deno.test('KAFKA_BROKERS with an IPv6 address stops the service (kafkajs connected to host "[" forever)', () => {
  for (const v of ["[::1]:9092", "a:9092,[fe80::1]:9092", "::1:9092"]) {
    assert.match(
      errorOf({ KAFKA_BROKERS: v }),
      /^Cannot start detector: KAFKA_BROKERS names an IPv6 address, which the Kafka client cannot connect to: use a host name/,
      v,
    );
  }
  // A Redis Cluster's nodes may be IPv6 (shared/redis.ts parses them).
  assert.deepEqual(
    parseEnv("detector", schema, { REDIS_CLUSTER_NODES: "[::1]:7000" }).REDIS_CLUSTER_NODES,
    [
      "[::1]:7000",
    ],
  );
});

Deno.test("HTTP_HOST is a host alone: with a port it failed to listen only after connecting (exit 1)", () => {
  for (
    const host of ["0.0.0.0", "localhost", "my-host.internal", "::", "::1", "[::1]", " 0.0.0.0 "]
  ) {
    assert.equal(parseEnv("detector", schema, { HTTP_HOST: host }).HTTP_HOST, host.trim(), host);
  }
  for (const host of ["0.0.0.0:8080", "localhost:9103", "[::1]:8080", "http://0.0.0.0", "a b"]) {
    const message = errorOf({ HTTP_HOST: host });
    assert.ok(
      message.startsWith(
        "Cannot start detector: HTTP_HOST is not a host name or address alone (the port goes in " +
          "this service's *_PORT variable)",
      ) && message.includes(`(got "${host}")`) && !message.includes("\n"),
      message,
    );
  }
});

Deno.test("durationVar refuses a duration longer than 365000d: it failed later in Redis, Date or PostgreSQL", () => {
  // DETECTOR_CLAIM_IDLE=99999999999999999999d started, then every XAUTOCLAIM failed
  // ("ERR Invalid min-idle-time argument"), retried forever.
  assert.equal(durationVar.parse("365000d"), 365_000 * 86_400_000);
  for (const bad of ["365001d", "99999999999999999999d", "9".repeat(400), "8760001h"]) {
    const result = durationVar.safeParse(bad);
    assert.equal(result.success, false, bad);
    assert.match(
      result.error!.issues[0]!.message,
      /is longer than 365000d \(1000 years\), the longest duration Vigil takes/,
      bad,
    );
  }
  assert.equal(durationVar.safeParse(Infinity).success, false);
  const schema = z.object({ CLAIM_IDLE: durationVar.default(1000) });
  assert.throws(
    () => parseEnv("detector", schema, { CLAIM_IDLE: "99999999999999999999d" }),
    /^ConfigError: Cannot start detector: CLAIM_IDLE is longer than 365000d \(1000 years\)/,
  );
});

Deno.test("a URL whose user or password has a % that is no %XX escape stops at start, naming it", () => {
  // `decodeURIComponent` threw "URI malformed" later: the notifier with a stack trace (SMTP_URL),
  // the web and detector exit 1 without naming the variable (DATABASE_URL, REDIS_URL).
  for (
    const [name, value] of [
      ["DATABASE_URL", "postgres://vigil:50%off@db:5432/vigil"],
      ["REDIS_URL", "redis://:50%off@127.0.0.1:6379"],
      ["SMTP_URL", "smtp://user%E0:pw@mail.example.com"],
    ]
  ) {
    const message = errorOf({ [name!]: value });
    assert.match(message, new RegExp(`^Cannot start detector: ${name} .*%25`), message);
    assert.doesNotMatch(message, /50%off|pw@/);
  }
  const ok = "redis://:50%25off@h:6379";
  assert.equal(parseEnv("t", schema, { REDIS_URL: ok }).REDIS_URL, ok);
});

Deno.test("a refused value with a newline or control character is shown escaped, on one line", () => {
  const message = errorOf({ LOG_LEVEL: "info\nwarn", PORT: "5\x1b]0;title\x07" });
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(message, /[\x00-\x1f\x7f]/, JSON.stringify(message));
  assert.match(message, /LOG_LEVEL .*\(got "info\\nwarn"\)/);
  assert.match(message, /PORT .*\(got "5\\u001b\]0;title\\u0007"\)/);
});

Deno.test("a path setting is trimmed: a trailing space made another folder", () => {
  const path = z.object({ DIR: pathVar(["read"], "a folder under .") });
  assert.equal(parseEnv("t", path, { DIR: "./shared \n" }).DIR, "./shared");
});

Deno.test("a URL naming port 0 stops at start: nothing listens there", () => {
  for (
    const [name, value] of [["REDIS_URL", "redis://127.0.0.1:0"], [
      "DATABASE_URL",
      "postgres://db:0/x",
    ]]
  ) {
    assert.match(
      errorOf({ [name!]: value }),
      new RegExp(`^Cannot start detector: ${name} names port 0`),
    );
  }
});

Deno.test("a number setting is written in decimal digits: hex, binary and exponents stop at start", () => {
  // Number() read 0x1F90 as 8080, 0b1 as 1 and 1e3 as 1000.
  for (const value of ["0x1F90", "0b1", "0o17", "1e3", "Infinity", "1_000", "12abc"]) {
    assert.match(
      errorOf({ PORT: value }),
      /^Cannot start detector: PORT must be a number in decimal digits \(e\.g\. 8080\)/,
      value,
    );
  }
  assert.equal(parseEnv("detector", schema, { PORT: " 8080 " }).PORT, 8080);
  assert.equal(parseEnv("detector", schema, { PORT: "+8080" }).PORT, 8080);
  assert.match(errorOf({ PORT: "80.5" }), /PORT Invalid input: expected int/);
});

Deno.test("durationVar refuses a duration under half a millisecond but above 0: it read as 0 (off)", () => {
  // HTTP_HEADER_TIMEOUT=0.4 was 0, which turns the request-head guard off without a word.
  for (const bad of ["0.4", "0.4ms", "0.0001s", 0.2]) {
    const result = durationVar.safeParse(bad);
    assert.equal(result.success, false, String(bad));
    assert.match(result.error!.issues[0]!.message, /is shorter than 1ms: write 0 for none/);
  }
  assert.equal(durationVar.parse("0"), 0);
  assert.equal(durationVar.parse("0s"), 0);
  assert.equal(durationVar.parse("0.5"), 1);
  // A JSON number (rules.json, routes file) under half a millisecond below 0 rounded to -0: taken.
  for (const bad of [-0.3, -1]) {
    assert.match(durationVar.safeParse(bad).error!.issues[0]!.message, /is negative/, String(bad));
  }
});
