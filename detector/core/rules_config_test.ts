import assert from "node:assert/strict";
import { DEFAULT_RULES, loadRulesConfig, parseRulesConfig } from "./rules_config.ts";

Deno.test("detector/rules.json as shipped holds exactly the defaults", async () => {
  const text = await Deno.readTextFile(new URL("../rules.json", import.meta.url));
  assert.deepEqual(parseRulesConfig(JSON.parse(text)), DEFAULT_RULES);
});

Deno.test("parseRulesConfig() bounds count windows at a day, naming the field", () => {
  assert.equal(
    parseRulesConfig({ logs: { error_spike: { window: "1d" } } }).logs.error_spike.window,
    86_400_000,
  );
  for (
    const [value, field] of [
      [{ logs: { error_spike: { window: "99999d" } } }, "logs.error_spike.window"],
      [
        { transactions: { user_frequency: { window: 86_400_001 } } },
        "transactions.user_frequency.window",
      ],
      [{ metrics: { cpu_sustained: { window: "25h" } } }, "metrics.cpu_sustained.window"],
    ] as const
  ) {
    assert.throws(
      () => parseRulesConfig(value),
      (e: Error) => e.message.includes(field) && e.message.includes("must be at most 24h"),
      field,
    );
  }
});

Deno.test("loadRulesConfig() refuses a file that sets a key twice in one object", async () => {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  try {
    // error_spike written twice: JSON.parse would keep only the second, silently.
    await Deno.writeTextFile(
      path,
      '{"logs": {"error_spike": {"threshold": 5}, "failed_message": {}, "error_spike": {"window": "1m"}}}',
    );
    await assert.rejects(
      loadRulesConfig(path),
      (e: Error) =>
        e instanceof TypeError &&
        e.message ===
          `Cannot load rules file ${path}: key "error_spike" appears twice in one object (JSON keeps only the last): remove or merge one`,
    );
    await Deno.writeTextFile(path, '{"logs": {"error_spike": {"threshold": 5}}}');
    assert.equal((await loadRulesConfig(path)).logs.error_spike.threshold, 5);
  } finally {
    await Deno.remove(path);
  }
});

/** The message of the TypeError `parseRulesConfig(value)` throws. */
function rejection(value: unknown): string {
  try {
    parseRulesConfig(value);
  } catch (error) {
    assert.ok(error instanceof TypeError);
    return error.message;
  }
  assert.fail(`accepted: ${JSON.stringify(value)}`);
}

Deno.test("parseRulesConfig() refuses an unknown key at every level, naming its path and the key", () => {
  for (
    const [value, expected] of [
      [{ cooldwn: "1m" }, '(root): Unrecognized key: "cooldwn"'],
      [{ log: {} }, '(root): Unrecognized key: "log"'],
      [
        { logs: { error_spik: { threshold: 5 } } },
        'logs: Unrecognized key: "error_spik" (known: error_spike, failed_message, user_spike)',
      ],
      [
        { logs: { error_spike: { treshold: 5 } } },
        'logs.error_spike: Unrecognized key: "treshold"',
      ],
      [
        { logs: { failed_message: { level: ["ERROR"] } } },
        'logs.failed_message: Unrecognized key: "level"',
      ],
      [{ logs: { user_spike: { windows: "1m" } } }, 'logs.user_spike: Unrecognized key: "windows"'],
      [{ metrics: { cpu_sustain: {} } }, 'metrics: Unrecognized key: "cpu_sustain"'],
      [
        { metrics: { cpu_sustained: { minspan: "1m" } } },
        'metrics.cpu_sustained: Unrecognized key: "minspan"',
      ],
      [
        { metrics: { latency_high: { latency: 5 } } },
        'metrics.latency_high: Unrecognized key: "latency"',
      ],
      [
        { metrics: { cpu_and_latency: { cpu_pct: 5 } } },
        'metrics.cpu_and_latency: Unrecognized key: "cpu_pct"',
      ],
      [
        { metrics: { metric_score: { measure: ["cpu"] } } },
        'metrics.metric_score: Unrecognized key: "measure"',
      ],
      [
        { metrics: { metric_score: { bands: { warn: 0.4 } } } },
        'metrics.metric_score.bands: Unrecognized key: "warn"',
      ],
      [
        { metrics: { entity_score: { mode: "fisher" } } },
        'metrics.entity_score: Unrecognized key: "mode"',
      ],
      [
        { metrics: { entity_score: { bands: { clearing: 0.1 } } } },
        'metrics.entity_score.bands: Unrecognized key: "clearing"',
      ],
      [{ transactions: { amount: {} } }, 'transactions: Unrecognized key: "amount"'],
      [
        { transactions: { amount_high: { currency: { EUR: 5 } } } },
        'transactions.amount_high: Unrecognized key: "currency"',
      ],
      [
        { transactions: { user_frequency: { limit: 3 } } },
        'transactions.user_frequency: Unrecognized key: "limit"',
      ],
      [
        { transactions: { status_zscore: { baseline: 30 } } },
        'transactions.status_zscore: Unrecognized key: "baseline"',
      ],
      [{ no_data: { log: {} } }, 'no_data: Unrecognized key: "log"'],
      [{ no_data: { metrics: { afterr: "1m" } } }, 'no_data.metrics: Unrecognized key: "afterr"'],
      [
        { no_data: { entities: [{ type: "logs", entity: "a", silence: "1m" }] } },
        'no_data.entities.0: Unrecognized key: "silence"',
      ],
      [{ no_data: { stream: { enable: false } } }, 'no_data.stream: Unrecognized key: "enable"'],
      [
        { logs: { error_spike: { treshold: 5, windw: "1m" } } },
        'logs.error_spike: Unrecognized keys: "treshold", "windw" (known: enabled, threshold, window, severity)',
      ],
    ] as const
  ) {
    const message = rejection(value);
    assert.ok(message.startsWith("Cannot load rules config: "), message);
    assert.ok(message.includes(expected), `${message}\n  should include ${expected}`);
  }
});

Deno.test("parseRulesConfig() refuses a cpu_sustained min_span that the window cannot hold, naming both", () => {
  for (
    const [value, values] of [
      [
        { metrics: { cpu_sustained: { min_span: "10m", window: "5m" } } },
        "min_span 10m, window 5m",
      ],
      // (τ − window, τ] holds readings spanning less than the window: equal never fires either.
      [{ metrics: { cpu_sustained: { min_span: "5m" } } }, "min_span 5m, window 5m"],
      [{ metrics: { cpu_sustained: { window: "4m" } } }, "min_span 4m, window 4m"],
    ] as const
  ) {
    const message = rejection(value);
    assert.match(message, /metrics\.cpu_sustained\.min_span: must be shorter than window/);
    assert.ok(message.includes(values), message);
  }
  const ok = parseRulesConfig({ metrics: { cpu_sustained: { min_span: 299_999, window: "5m" } } });
  assert.equal(ok.metrics.cpu_sustained.min_span, 299_999);
});

Deno.test("parseRulesConfig() refuses bands out of order, naming both fields of each", () => {
  for (const rule of ["metric_score", "entity_score"] as const) {
    const at = `metrics.${rule}.bands`;
    assert.ok(
      rejection({ metrics: { [rule]: { bands: { warning: 0.95 } } } }).includes(
        `${at}.warning: must be at most critical (warning 0.95, critical 0.9)`,
      ),
    );
    assert.ok(
      rejection({ metrics: { [rule]: { bands: { clear: 0.6 } } } }).includes(
        `${at}.clear: must be at most warning (clear 0.6, warning 0.5)`,
      ),
    );
    // Equal bands are fine: warning = critical raises CRITICAL only.
    const equal = parseRulesConfig({
      metrics: { [rule]: { bands: { clear: 0.7, warning: 0.7, critical: 0.7 } } },
    });
    assert.equal(equal.metrics[rule].bands.critical, 0.7);
  }
});

Deno.test("parseRulesConfig() refuses a status_zscore warning above critical, naming both", () => {
  assert.ok(
    rejection({ transactions: { status_zscore: { warning: 5 } } }).includes(
      "transactions.status_zscore.warning: must be at most critical (warning 5, critical 4)",
    ),
  );
  const equal = parseRulesConfig({ transactions: { status_zscore: { warning: 4, critical: 4 } } });
  assert.equal(equal.transactions.status_zscore.warning, 4);
});

Deno.test("parseRulesConfig() refuses entity_score measures metric_score does not score, or too few", () => {
  assert.ok(
    rejection({ metrics: { entity_score: { measures: ["cpu", "latncy_ms"] } } }).includes(
      'metrics.entity_score.measures.1: "latncy_ms" is not in metric_score.measures (cpu, latency_ms, error_rate)',
    ),
  );
  assert.ok(
    rejection({ metrics: { entity_score: { min_measures: 4 } } }).includes(
      "metrics.entity_score.min_measures: must be at most the number of measures combined (min_measures 4, metric_score.measures: cpu, latency_ms, error_rate)",
    ),
  );
  assert.ok(
    rejection({ metrics: { entity_score: { measures: ["cpu", "error_rate"], min_measures: 3 } } })
      .includes("(min_measures 3, entity_score.measures: cpu, error_rate)"),
  );
  assert.ok(
    rejection({ metrics: { metric_score: { measures: ["cpu"] } } }).includes(
      "metrics.entity_score.min_measures: must be at most the number of measures combined (min_measures 2, metric_score.measures: cpu)",
    ),
  );
  // With entity_score (or metric_score, which feeds it) off, there is nothing to combine.
  parseRulesConfig({
    metrics: { metric_score: { measures: ["cpu"] }, entity_score: { enabled: false } },
  });
  parseRulesConfig({ metrics: { metric_score: { measures: ["cpu"], enabled: false } } });
});

Deno.test("parseRulesConfig() refuses a measure listed twice", () => {
  assert.ok(
    rejection({ metrics: { metric_score: { measures: ["cpu", "latency_ms", "cpu"] } } }).includes(
      'metrics.metric_score.measures.2: "cpu" is listed twice',
    ),
  );
  assert.ok(
    rejection({ metrics: { entity_score: { measures: ["cpu", "cpu"] } } }).includes(
      'metrics.entity_score.measures.1: "cpu" is listed twice',
    ),
  );
});

Deno.test("parseRulesConfig() refuses a no_data after at or past forget_after, and an entity listed twice", () => {
  assert.ok(
    rejection({ no_data: { metrics: { enabled: true, after: "2d" } } }).includes(
      "no_data.metrics.after: must be shorter than forget_after (after 2d, forget_after 1d)",
    ),
  );
  assert.ok(
    rejection({ no_data: { forget_after: "1h", logs: { enabled: true, after: "1h" } } }).includes(
      "no_data.logs.after: must be shorter than forget_after (after 1h, forget_after 1h)",
    ),
  );
  // A type's after is also its entries' default, watched even while the type's watch is off.
  assert.ok(
    rejection({
      no_data: {
        forget_after: "1h",
        logs: { after: "2h" },
        entities: [{ type: "logs", entity: "a" }],
      },
    }).includes(
      "no_data.logs.after: must be shorter than forget_after (after 2h, forget_after 1h)",
    ),
  );
  // Watches that are off are not checked: only the after in use must be shorter.
  parseRulesConfig({
    no_data: {
      forget_after: "10m",
      metrics: { enabled: true, after: "2m" },
      entities: [
        { type: "logs", entity: "a", after: "1m" },
        { type: "transactions", entity: "pending", after: "1h", enabled: false },
      ],
    },
  });
  assert.ok(
    rejection({
      no_data: { forget_after: "1h", entities: [{ type: "logs", entity: "a", after: "90m" }] },
    }).includes(
      "no_data.entities.0.after: must be shorter than forget_after (after 1h30m, forget_after 1h)",
    ),
  );
  assert.ok(
    rejection({
      no_data: {
        entities: [
          { type: "logs", entity: "a", after: "2m" },
          { type: "metrics", entity: "a" },
          { type: "logs", entity: "a", enabled: false },
        ],
      },
    }).includes('no_data.entities.2: logs entity "a" is listed twice (also at entities.0)'),
  );
});

Deno.test("parseRulesConfig() refuses a transaction status it does not know (it would never match)", () => {
  // Statuses are lower-cased by the bridge: "Failed" or "faild" never matched, silently.
  assert.ok(
    rejection({ transactions: { status_zscore: { problem_statuses: ["failed", "Faild"] } } })
      .includes(
        "transactions.status_zscore.problem_statuses.1: is not a transaction status (approved, denied,",
      ),
  );
  assert.ok(
    rejection({ no_data: { entities: [{ type: "transactions", entity: "Denied" }] } }).includes(
      'no_data.entities.0.entity: "Denied" is not a transaction status (approved, denied,',
    ),
  );
  const ok = parseRulesConfig({
    transactions: { status_zscore: { problem_statuses: ["denied"] } },
    no_data: { entities: [{ type: "transactions", entity: "failed" }] },
  });
  assert.deepEqual(ok.transactions.status_zscore.problem_statuses, ["denied"]);
});

Deno.test("parseRulesConfig() refuses a no_data entity no event can name (it would never match)", () => {
  // The bridge trims a service and refuses control characters: "other " was silently never matched,
  // so `enabled: false` left nothing out (and `after` watched a service that cannot report).
  const entity = (name: string) => ({ no_data: { entities: [{ type: "metrics", entity: name }] } });
  assert.ok(
    rejection(entity("other ")).includes(
      'no_data.entities.0.entity: "other " has spaces around it: the bridge trims service names',
    ),
  );
  assert.ok(rejection(entity("pay\u0000")).includes("no_data.entities.0.entity: "));
  assert.ok(rejection(entity("x".repeat(129))).includes("no_data.entities.0.entity: "));
  assert.equal(parseRulesConfig(entity("other")).no_data.entities[0]?.entity, "other");
});

Deno.test("loadRulesConfig() reads a file saved with a byte order mark", async () => {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  try {
    // Notepad and some editors on Windows save UTF-8 with a BOM: refused as "Unexpected token".
    await Deno.writeTextFile(path, '\uFEFF{"logs": {"error_spike": {"threshold": 5}}}');
    assert.equal((await loadRulesConfig(path)).logs.error_spike.threshold, 5);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("the rules examples of docs/detector.md load", async () => {
  const doc = await Deno.readTextFile(new URL("../../docs/detector.md", import.meta.url));
  const sections = new Set(Object.keys(DEFAULT_RULES));
  let checked = 0;
  for (const m of doc.matchAll(/```json\n([\s\S]*?)```/g)) {
    const text = m[1]!.trim();
    // A fragment (`"no_data": {…}`) is a member of the file's top object.
    const value = JSON.parse(text.startsWith('"') ? `{${text}}` : text) as Record<string, unknown>;
    const rules = Object.keys(value).every((k) => sections.has(k))
      ? value
      // GET /api/rules: its rules (resolved, "…" standing for the rest).
      : "rules" in value && "version" in value
      ? JSON.parse(JSON.stringify(value.rules), (k, v) => k === "…" ? undefined : v)
      : null;
    if (rules === null) continue;
    parseRulesConfig(rules, "docs/detector.md");
    checked++;
  }
  assert.ok(checked >= 3, `${checked} examples`);
});

Deno.test("parseRulesConfig() says what a duration of the wrong type should be", () => {
  for (const value of [true, null, [1], {}]) {
    const message = rejection({ cooldown: value });
    assert.ok(message.includes("cooldown: is not a duration (e.g. 500ms"), message);
  }
});

Deno.test("parseRulesConfig() refuses the keys __proto__, constructor and prototype wherever a file sets them, naming the key", () => {
  // JSON.parse keeps "__proto__" as a key of its own; zod's record dropped it, silently.
  for (
    const [text, expected] of [
      [
        '{"transactions": {"amount_high": {"per_currency": {"EUR": 100, "__proto__": 5}}}}',
        'transactions.amount_high.per_currency.__proto__: Invalid key in record: "__proto__"',
      ],
      [
        '{"transactions": {"amount_high": {"per_currency": {"constructor": 5}}}}',
        "transactions.amount_high.per_currency.constructor: Invalid key in record",
      ],
      [
        '{"transactions": {"amount_high": {"per_currency": {"prototype": 5}}}}',
        "transactions.amount_high.per_currency.prototype: Invalid key in record",
      ],
      ['{"__proto__": {"cooldown": "1m"}}', '(root): Unrecognized key: "__proto__"'],
      ['{"logs": {"constructor": {}}}', 'logs: Unrecognized key: "constructor"'],
    ] as const
  ) {
    const message = rejection(JSON.parse(text));
    assert.ok(message.includes(expected), `${message}\n  should include ${expected}`);
  }
});
