import assert from "node:assert/strict";
import { ConfigError } from "@vigil/shared/config";
import { loadConfig } from "./config.ts";
import { DEFAULT_INHIBIT_RULES } from "./inhibit.ts";
import { parseRouting } from "./routes.ts";

/** The routes of the routes file's text (its inhibition rules left out). */
const parseRoutes = (...args: Parameters<typeof parseRouting>) => parseRouting(...args).routes;

Deno.test("loadConfig() applies the documented defaults", () => {
  const c = loadConfig({});
  assert.equal(c.port, 9104);
  assert.deepEqual(c.defaultRoute.groupBy, []);
  assert.equal(c.defaultRoute.groupWaitMs, 30_000);
  assert.equal(c.defaultRoute.groupIntervalMs, 5 * 60_000);
  assert.equal(c.defaultRoute.repeatIntervalMs, 4 * 3_600_000);
  assert.equal(c.defaultRoute.criticalImmediate, false);
  assert.deepEqual(c.defaultRoute.channels, ["email"]);
  assert.equal(c.smtp, undefined);
  assert.equal(c.outboxDir, "./data/outbox");
});

Deno.test("loadConfig() reads SMTP_URL and channel URLs", () => {
  const c = loadConfig({
    SMTP_URL: "smtps://me%40x.com:p%40ss@mail.example.com",
    DISCORD_WEBHOOK_URL: "https://discord.com/api/webhooks/1/abc",
    GROUP_BY: "service, severity",
  });
  assert.deepEqual(c.smtp, {
    host: "mail.example.com",
    port: 465,
    secure: true,
    requireTls: false, // TLS from the first byte already
    user: "me@x.com",
    password: "p@ss",
  });
  assert.deepEqual(c.defaultRoute.channels, ["email", "discord"]);
  assert.deepEqual(c.defaultRoute.groupBy, ["entity", "severity"]);
});

Deno.test("loadConfig() names the bad variable and hides secrets", () => {
  assert.throws(
    () => loadConfig({ GROUP_BY: "colour" }),
    (e: Error) => e instanceof ConfigError && /GROUP_BY has unknown label "colour"/.test(e.message),
  );
  assert.throws(
    () => loadConfig({ DISCORD_WEBHOOK_URL: "not a url/secret" }),
    (e: Error) => /DISCORD_WEBHOOK_URL/.test(e.message) && !e.message.includes("secret"),
  );
});

Deno.test("loadConfig() takes EMAIL_FROM as an address, alone or with a name, and refuses anything else", () => {
  assert.equal(loadConfig({}).emailFrom, "Vigil <vigil@localhost>");
  assert.equal(loadConfig({ EMAIL_FROM: "ops@example.com" }).emailFrom, "ops@example.com");
  assert.equal(
    loadConfig({ EMAIL_FROM: " Vigil Alerts <alerts@example.com> " }).emailFrom,
    "Vigil Alerts <alerts@example.com>",
  );
  for (const bad of ["vigil", "Vigil <vigil>", "Vigil <a@b> <c@d>", "a@b c@d"]) {
    assert.throws(
      () => loadConfig({ EMAIL_FROM: bad }),
      (e: Error) =>
        e instanceof ConfigError && /EMAIL_FROM is not an email address/.test(e.message),
      bad,
    );
  }
});

Deno.test("loadConfig() refuses an SMTP_URL without a host", () => {
  assert.throws(
    () => loadConfig({ SMTP_URL: "smtp://" }),
    (e: Error) => e instanceof ConfigError && /SMTP_URL names no host/.test(e.message),
  );
});

Deno.test("loadConfig() refuses an SMTP_URL it cannot parse with a ConfigError that hides the password", () => {
  // The host check threw a TypeError with the URL in it: a crash printing the password.
  for (const bad of ["smtp://user:hunter2secret@", "smtp://user:hunter2secret@[mail"]) {
    assert.throws(
      () => loadConfig({ SMTP_URL: bad }),
      (e: Error) =>
        e instanceof ConfigError && /SMTP_URL is not a valid URL/.test(e.message) &&
        !e.message.includes("hunter2secret"),
      bad,
    );
  }
});

Deno.test("loadConfig() turns TLS on for an SMTP_URL on port 465, as for SMTP_PORT 465", () => {
  assert.equal(loadConfig({ SMTP_URL: "smtp://u:p@mail.example.com:465" }).smtp?.secure, true);
  assert.equal(loadConfig({ SMTP_HOST: "mail.example.com", SMTP_PORT: "465" }).smtp?.secure, true);
  assert.equal(loadConfig({ SMTP_URL: "smtp://u:p@mail.example.com:587" }).smtp?.secure, false);
  const forced = loadConfig({ SMTP_URL: "smtp://mail.example.com:465", SMTP_SECURE: "false" });
  assert.equal(forced.smtp?.secure, false);
});

Deno.test("loadConfig() requires STARTTLS before a password goes to another machine (SMTP_REQUIRE_TLS)", () => {
  const tls = (env: Record<string, string>) => loadConfig(env).smtp?.requireTls;
  assert.equal(tls({ SMTP_URL: "smtp://u:p@mail.example.com:587" }), true);
  assert.equal(tls({ SMTP_HOST: "mail.example.com", SMTP_USER: "u", SMTP_PASSWORD: "p" }), true);
  // No password to protect, a relay on this host, TLS from the first byte, or said otherwise.
  assert.equal(tls({ SMTP_URL: "smtp://mail.example.com:25" }), false);
  assert.equal(tls({ SMTP_URL: "smtp://u:p@127.0.0.1:1025" }), false);
  assert.equal(tls({ SMTP_URL: "smtp://u:p@localhost:1025" }), false);
  assert.equal(tls({ SMTP_URL: "smtps://u:p@mail.example.com" }), false);
  assert.equal(tls({ SMTP_URL: "smtp://u:p@mail.example.com", SMTP_REQUIRE_TLS: "false" }), false);
  assert.equal(tls({ SMTP_URL: "smtp://127.0.0.1:25", SMTP_REQUIRE_TLS: "true" }), true);
});

Deno.test("group and repeat intervals are at least a second, in the environment and in routes", () => {
  // 0 re-sent a "still firing" repeat on every tick of the batcher: an email storm.
  for (const [name, value] of [["REPEAT_INTERVAL", "0"], ["GROUP_INTERVAL", "500ms"]] as const) {
    assert.throws(
      () => loadConfig({ [name]: value }),
      (e: Error) =>
        e instanceof ConfigError &&
        e.message.includes(`${name} must be at least 1s (0 would send a digest on every tick)`),
      name,
    );
  }
  assert.equal(loadConfig({ REPEAT_INTERVAL: "1s" }).defaultRoute.repeatIntervalMs, 1000);
  const c = loadConfig({});
  assert.throws(
    () =>
      parseRoutes(
        JSON.stringify({ routes: [{ name: "x", repeat_interval: "0s" }] }),
        c.defaultRoute,
        ["email"],
      ),
    /repeat_interval: must be at least 1s/,
  );
});

Deno.test("parseRouting() inherits defaults and rejects unconfigured channels", () => {
  const c = loadConfig({ DISCORD_WEBHOOK_URL: "https://d/x" });
  const routes = parseRoutes(
    JSON.stringify({
      routes: [{
        name: "payments",
        match: { type: "transactions" },
        channels: ["discord"],
        group_wait: "5s",
        critical_immediate: true,
      }],
    }),
    c.defaultRoute,
    ["email", "discord"],
  );
  assert.equal(routes.length, 2);
  assert.equal(routes[0]!.groupWaitMs, 5000);
  assert.equal(routes[0]!.groupIntervalMs, 5 * 60_000);
  assert.equal(routes[1]!.name, "default");
  assert.throws(
    () =>
      parseRoutes(
        JSON.stringify({ routes: [{ name: "x", channels: ["slack"] }] }),
        c.defaultRoute,
        ["email"],
      ),
    /channel "slack", which is not configured/,
  );
  assert.throws(() => parseRoutes("{", c.defaultRoute, ["email"]), /Cannot load routes: not JSON/);
  // A bad matcher names its field and what is wrong with it.
  const bad = (match: unknown) => () =>
    parseRoutes(
      JSON.stringify({ routes: [{ name: "x", match, channels: [] }] }),
      c.defaultRoute,
      ["email"],
    );
  assert.throws(
    bad({ severity: "loud" }),
    /routes\.0\.match\.severity: Invalid option: expected one of "INFO"\|"WARNING"\|"CRITICAL"/,
  );
  // A severity in any case, as a silence's and the API's filter take it.
  assert.deepEqual(bad({ severity: "critical" })()[0]!.match, { severity: "CRITICAL" });
  assert.throws(bad({ typo: "x" }), /routes\.0\.match: Unrecognized key: "typo"/);
  assert.deepEqual(bad({})()[0]!.match, {}, "an empty match matches every alert");
  // A route whose "match" is written twice: JSON.parse would keep only the second.
  const twice = `{"routes": [{"name": "payments", "match": {"type": "transactions"},
    "channels": ["email"], "match": {"severity": "INFO"}}]}`;
  assert.throws(
    () => parseRoutes(twice, c.defaultRoute, ["email"]),
    /^SyntaxError: Cannot load routes: key "match" appears twice in one object \(JSON keeps only the last\): remove or merge one$/,
  );
});

Deno.test("parseRouting() accepts a record-only route and inhibition rules, default rule otherwise", () => {
  const c = loadConfig({});
  const r = parseRouting(
    JSON.stringify({
      routes: [{ name: "log-only", match: { severity: "WARNING" }, channels: [] }],
      inhibit_rules: [{ source: { rule: "host_down" }, target: { type: "metrics" } }],
    }),
    c.defaultRoute,
    ["email"],
  );
  assert.deepEqual(r.routes[0]!.channels, []);
  assert.deepEqual(r.inhibitRules, [
    { source: { rule: "host_down" }, target: { type: "metrics" }, equal: ["entity"] },
  ]);
  const none = parseRouting(JSON.stringify({ routes: [] }), c.defaultRoute, ["email"]);
  assert.deepEqual(none.inhibitRules, [...DEFAULT_INHIBIT_RULES]);
  assert.throws(
    () =>
      parseRouting(
        JSON.stringify({ routes: [], inhibit_rules: [{ source: {}, target: { severity: "X" } }] }),
        c.defaultRoute,
        ["email"],
      ),
    /Cannot load routes: .*inhibit_rules/,
  );
});

Deno.test("parseRouting() refuses a route an earlier one leaves nothing to (first match wins)", () => {
  const c = loadConfig({});
  const routing = (routes: unknown[]) =>
    parseRouting(JSON.stringify({ routes }), c.defaultRoute, ["email"]);
  // A catch-all first: the payments route never saw an alert, silently.
  assert.throws(
    () =>
      routing([
        { name: "everything", channels: ["email"] },
        { name: "payments", match: { type: "transactions" }, channels: [] },
      ]),
    /^SyntaxError: Cannot load routes: route "payments" can never match: route "everything" before it matches every alert it would \(the first match wins\): move it up or narrow "everything"$/,
  );
  assert.throws(
    () =>
      routing([
        { name: "tx", match: { type: "transactions" }, channels: [] },
        {
          name: "tx-critical",
          match: { type: "transactions", severity: "CRITICAL" },
          channels: [],
        },
      ]),
    /route "tx-critical" can never match: route "tx" before it/,
  );
  // Narrower first, or disjoint: both reachable.
  const ok = routing([
    { name: "tx-critical", match: { type: "transactions", severity: "CRITICAL" }, channels: [] },
    { name: "tx", match: { type: "transactions" }, channels: [] },
    { name: "logs", match: { type: "logs" }, channels: [] },
    { name: "rest", channels: [] },
  ]);
  assert.deepEqual(ok.routes.map((r) => r.name), ["tx-critical", "tx", "logs", "rest", "default"]);
});

Deno.test("parseRouting() reads a file saved with a byte order mark", () => {
  const c = loadConfig({});
  // Notepad and some editors on Windows save UTF-8 with a BOM: refused as "Unexpected token".
  const r = parseRouting('\uFEFF{"routes": []}', c.defaultRoute, ["email"]);
  assert.deepEqual(r.routes.map((x) => x.name), ["default"]);
});

Deno.test("delivery durations that would break every send stop the notifier at start", async (t) => {
  const refused = (env: Record<string, string>, message: RegExp) =>
    assert.throws(
      () => loadConfig(env),
      (e: Error) => e instanceof ConfigError && message.test(e.message),
      JSON.stringify(env),
    );
  await t.step("SEND_TIMEOUT: 0 or past a timer's limit aborted every send at once", () => {
    assert.equal(loadConfig({ SEND_TIMEOUT: "1m" }).sendTimeoutMs, 60_000);
    for (const v of ["0", "500ms", "30d"]) {
      refused({ SEND_TIMEOUT: v }, /SEND_TIMEOUT must be between 1s and 10m/);
    }
  });
  await t.step("GIVE_UP_AFTER 0 gave every digest up before its first send", () => {
    assert.equal(loadConfig({ GIVE_UP_AFTER: "3s" }).giveUpAfterMs, 3000);
    refused({ GIVE_UP_AFTER: "0" }, /GIVE_UP_AFTER must be at least 1s/);
  });
  await t.step("RETRY_BASE 0 retried a failing channel in a tight loop", () => {
    assert.equal(loadConfig({ RETRY_BASE: "100ms" }).retryBaseMs, 100);
    refused({ RETRY_BASE: "0" }, /RETRY_BASE must be at least 100ms/);
  });
  await t.step("RETRY_CAP below RETRY_BASE (the base was silently ignored)", () => {
    refused({ RETRY_BASE: "5m" }, /RETRY_CAP must be at least RETRY_BASE/);
    assert.equal(loadConfig({ RETRY_BASE: "5m", RETRY_CAP: "10m" }).retryCapMs, 600_000);
  });
});

Deno.test("SMTP_HOST is a host alone: a port or scheme in it failed every send (no such host)", () => {
  assert.equal(loadConfig({ SMTP_HOST: "mail.example.com" }).smtp?.host, "mail.example.com");
  assert.equal(loadConfig({ SMTP_HOST: "::1" }).smtp?.host, "::1");
  for (const v of ["mail.example.com:587", "smtp://mail.example.com", "mail example"]) {
    assert.throws(
      () => loadConfig({ SMTP_HOST: v }),
      (e: Error) =>
        e instanceof ConfigError &&
        /SMTP_HOST is not a host name or address \(the port goes in SMTP_PORT; or set SMTP_URL\)/
          .test(e.message),
      v,
    );
  }
});

Deno.test("STALE_AFTER leaves room for a repeat: a firing alert dropped first was never repeated", () => {
  // STALE_AFTER=1h with REPEAT_INTERVAL=4h: the alert left its group before its first repeat.
  for (
    const [env, total] of [
      [{ STALE_AFTER: "1h" }, "4h5m"],
      [{ STALE_AFTER: "4h" }, "4h5m"],
      [{ STALE_AFTER: "245m" }, "4h5m"],
      [{ STALE_AFTER: "2h", REPEAT_INTERVAL: "1h", GROUP_WAIT: "1h" }, "2h"],
    ] as const
  ) {
    assert.throws(
      () => loadConfig(env),
      (e: Error) =>
        e instanceof ConfigError && !e.message.includes("\n") &&
        e.message.startsWith(
          `Cannot start notifier: STALE_AFTER must be longer than REPEAT_INTERVAL plus the longer of GROUP_WAIT and GROUP_INTERVAL (${total})`,
        ),
      JSON.stringify(env),
    );
  }
  assert.equal(loadConfig({ STALE_AFTER: "246m" }).staleAfterMs, 246 * 60_000);
  assert.equal(loadConfig({ STALE_AFTER: "1h", REPEAT_INTERVAL: "30m" }).staleAfterMs, 3_600_000);
  // A route's own timers too (the file is read at start).
  const c = loadConfig({});
  const route = (r: object) =>
    JSON.stringify({ routes: [{ name: "x", channels: ["email"], ...r }] });
  assert.throws(
    () => parseRouting(route({ repeat_interval: "1d" }), c.defaultRoute, ["email"], 86_400_000),
    /^SyntaxError: Cannot load routes: route "x": STALE_AFTER \(1d\) must be longer than its repeat_interval plus the longer of its group_wait and group_interval \(1d5m\)/,
  );
  parseRouting(route({ repeat_interval: "23h" }), c.defaultRoute, ["email"], 86_400_000);
});

Deno.test("STALE_AFTER unset follows a long REPEAT_INTERVAL: REPEAT_INTERVAL=24h alone starts", () => {
  // Before: REPEAT_INTERVAL=24h with the default STALE_AFTER (24h) stopped the notifier at start.
  const H = 3_600_000;
  assert.equal(loadConfig({}).staleAfterMs, 24 * H);
  assert.equal(loadConfig({ REPEAT_INTERVAL: "6h" }).staleAfterMs, 24 * H);
  // A repeat after 24h5m (its first send within GROUP_INTERVAL, 5m), and another interval.
  assert.equal(loadConfig({ REPEAT_INTERVAL: "24h" }).staleAfterMs, 48 * H + 5 * 60_000);
  // Set, it is checked as before.
  assert.throws(() => loadConfig({ REPEAT_INTERVAL: "24h", STALE_AFTER: "24h" }), ConfigError);
});

Deno.test("a record-only route's timers are not held against STALE_AFTER (it sends nothing)", () => {
  // A route muted by emptying its channels keeps its timers: the previous release took the file,
  // and with no group and no message there is no repeat to miss. Before: the notifier exited 2.
  const c = loadConfig({});
  const file = JSON.stringify({
    routes: [{ name: "muted", match: { rule: "x" }, channels: [], repeat_interval: "1d" }],
  });
  const routing = parseRouting(file, c.defaultRoute, ["email"], 86_400_000);
  assert.deepEqual(routing.routes.map((r) => [r.name, r.channels]), [
    ["muted", []],
    ["default", c.defaultRoute.channels],
  ]);
});

Deno.test("SMTP settings that would not be read stop the notifier at start (mail went to the outbox, or AUTH was never sent)", () => {
  const refused = (env: Record<string, string>, message: RegExp) =>
    assert.throws(
      () => loadConfig(env),
      (e: Error) => e instanceof ConfigError && message.test(e.message),
      JSON.stringify(env),
    );
  // No server: every one of these was dropped, and mail went to OUTBOX_DIR.
  for (
    const name of ["SMTP_PORT", "SMTP_USER", "SMTP_PASSWORD", "SMTP_SECURE", "SMTP_REQUIRE_TLS"]
  ) {
    const value = name === "SMTP_PORT"
      ? "2525"
      : name.endsWith("SECURE") || name.endsWith("TLS")
      ? "true"
      : "secret";
    refused(
      { [name]: value },
      new RegExp(
        `${name} needs SMTP_HOST or SMTP_URL \\(without either, mail goes to OUTBOX_DIR\\)`,
      ),
    );
  }
  // With SMTP_URL, the URL names the host, port, user and password: these were dropped.
  for (const name of ["SMTP_HOST", "SMTP_PORT", "SMTP_USER", "SMTP_PASSWORD"]) {
    const value = name === "SMTP_PORT" ? "2525" : name === "SMTP_HOST" ? "other.example.com" : "u";
    refused(
      { SMTP_URL: "smtp://mail.example.com:587", [name]: value },
      new RegExp(`${name} is not read with SMTP_URL`),
    );
  }
  // A password is never echoed.
  assert.throws(
    () => loadConfig({ SMTP_URL: "smtp://mail.example.com", SMTP_PASSWORD: "hunter2hunter2" }),
    (e: Error) => !e.message.includes("hunter2"),
  );
  // What the docs allow: SMTP_SECURE and SMTP_REQUIRE_TLS with SMTP_URL, the five with SMTP_HOST.
  assert.equal(
    loadConfig({ SMTP_URL: "smtp://mail.example.com:465", SMTP_SECURE: "false" }).smtp?.secure,
    false,
  );
  assert.equal(
    loadConfig({ SMTP_URL: "smtp://mail.example.com", SMTP_REQUIRE_TLS: "true" }).smtp?.requireTls,
    true,
  );
  const full = loadConfig({
    SMTP_HOST: "mail.example.com",
    SMTP_PORT: "2525",
    SMTP_USER: "u",
    SMTP_PASSWORD: "p",
    SMTP_SECURE: "false",
    SMTP_REQUIRE_TLS: "false",
  }).smtp;
  assert.deepEqual(full, {
    host: "mail.example.com",
    port: 2525,
    secure: false,
    requireTls: false,
    user: "u",
    password: "p",
  });
  // Empty means unset (`SMTP_USER=` in a compose file).
  assert.equal(loadConfig({ SMTP_USER: "", SMTP_PASSWORD: " " }).smtp, undefined);
});

Deno.test("SMTP port 0 stops the notifier at start: nodemailer sent to 587 (or 465) instead", () => {
  for (
    const env of [
      { SMTP_HOST: "mail.example.com", SMTP_PORT: "0" },
      { SMTP_URL: "smtp://mail.example.com:0" },
    ]
  ) {
    assert.throws(
      () => loadConfig(env),
      (e) => e instanceof ConfigError && /SMTP_(PORT|URL)/.test(e.message),
    );
  }
});

Deno.test("an SMTP_URL with an IPv6 address connects to the address, not to [::1] as a name", () => {
  // nodemailer looked "[::1]" up as a host name: every send failed ("queryA UNKNOWN [::1]").
  assert.equal(loadConfig({ SMTP_URL: "smtp://[::1]:2525" }).smtp?.host, "::1");
});

Deno.test("EMAIL_FROM refuses a name nodemailer would read as another address or a group", () => {
  // `"Vigil <a@b>` sent MAIL FROM:<"Vigil  a"@b>; `Vigil, Ops <a@b>` became From: Ops <a@b>.
  for (
    const from of [
      '"Vigil <vigil@example.com>',
      "Vigil, Ops <vigil@example.com>",
      "Vigil: x <vigil@example.com>",
    ]
  ) {
    assert.throws(
      () => loadConfig({ EMAIL_FROM: from }),
      (e) => e instanceof ConfigError && /EMAIL_FROM/.test(e.message),
      from,
    );
  }
  for (
    const from of [
      '"Vigil, Ops" <vigil@example.com>',
      "Vigil Ops <vigil@example.com>",
      "<vigil@example.com>",
    ]
  ) {
    assert.equal(loadConfig({ EMAIL_FROM: from }).emailFrom, from);
  }
});

Deno.test("EMAIL_TO lists each address once", () => {
  const to =
    loadConfig({ EMAIL_TO: "ops@example.com, Ops@Example.com,dev@example.com,ops@example.com" })
      .emailTo;
  assert.deepEqual(to, ["ops@example.com", "dev@example.com"]);
});
