/**
 * The event generator: realistic logs, metric readings and transactions for
 * a set of services and users, plus labelled anomaly scenarios. Pure: a
 * seeded PRNG (same seed and same clock values → same messages) and the
 * clock passed in as `nowMs`. Other modules (the run loop, end-to-end tests)
 * only call {@link createGenerator}.
 *
 * ## Why normal traffic never trips a rule (at the default 200 events/s)
 *
 * The detector's default rules (see each scenario) are avoided *by
 * construction*, not by luck:
 *
 * - **Logs**: levels INFO/DEBUG/WARNING, plus ERROR at most once per 30 s
 *   of event time per service (an ERROR drawn sooner is written as a
 *   WARNING), so at most 7 ERRORs per service in any 3 minutes (rule: 20).
 *   No normal message contains "fail" in any case (tested over every
 *   template), so `failed_message` cannot fire.
 * - **Users**: user ids are dealt round-robin from a pool shuffled once
 *   (`users`, default 20,000), one cursor for logs and one for
 *   transactions, and the order never changes between rounds. So a user
 *   reappears in a stream exactly `users` draws later, and at a total rate
 *   of R events/s a user has at most `floor(R·W/users) + 1` events of one
 *   type in a window of W seconds, whatever the mix: at R = 200 that is 2
 *   logs per 3 min (rule: 10) and 4 transactions per 5 min (rule: 5),
 *   even if every event were of that type. {@link minUsersForRate} gives the
 *   pool a higher rate needs; {@link maxUserEventsInWindow} the bound.
 * - **Metrics**: one reading per service every `metricIntervalMs` (10 s),
 *   CPU = a smooth per-service sine (base 20–40 %, amplitude 5–15 %, period
 *   20–60 min) + bounded noise (sum of three uniforms, |noise| ≤ 3), clamped
 *   to 5–70 %; latency the same shape within 20–400 ms. Never CPU ≥ 80 or
 *   latency > 1000.
 * - **Transactions**: amounts log-normal (median 45), capped at 2,000
 *   (rule: > 10,000). Statuses only `approved` and, every 20th
 *   transaction, `pending`: a problem status (denied, failed, reversed,
 *   backend_reversed) without a baseline is CRITICAL, so those appear only
 *   in the `failed_tx_burst` scenario. The log/transaction mix is a fixed
 *   weighted round-robin (3 logs : 2 transactions), not a coin flip, so
 *   per-minute status counts depend only on the send rate.
 *
 * At `--rate max` (or rates above what the pool allows) the per-user and
 * per-minute guarantees no longer hold: it is a load test.
 *
 * @module
 */
import type { EventType, TransactionStatus } from "@vigil/shared/schemas/event";

/**
 * Scenarios only the statistical engine sees (`metric_score`,
 * `entity_score`): a fresh service's normal history, backfilled, ending in a
 * level shift, a variance change, a daytime value at night, or a slow drift.
 * No threshold rule fires on them.
 */
export const STATISTICAL_SCENARIOS = [
  "level_shift",
  "variance_change",
  "night_value",
  "slow_drift",
] as const;

/**
 * Scenario names, as accepted by `--scenario`, in rotation order (the
 * statistical ones interleaved so that each shows within a few rotations).
 */
export const SCENARIOS = [
  "error_burst",
  "level_shift",
  "failed_messages",
  "user_log_spike",
  "variance_change",
  "cpu_sustained",
  "latency_spike",
  "night_value",
  "cpu_latency",
  "large_amount",
  "slow_drift",
  "high_frequency_user",
  "failed_tx_burst",
] as const;
export type ScenarioName = typeof SCENARIOS[number];

/** The scenarios of threshold and window rules (those before the statistical ones were added). */
export const RULE_SCENARIOS: readonly ScenarioName[] = SCENARIOS.filter(
  (s) => !(STATISTICAL_SCENARIOS as readonly string[]).includes(s),
);

/** Is `s` a scenario name? */
export function isScenarioName(s: string): s is ScenarioName {
  return (SCENARIOS as readonly string[]).includes(s);
}

/** Header naming the scenario a message belongs to. */
export const SCENARIO_HEADER = "vigil-scenario";
/** Header holding the JSON array of {@link ExpectedAnomaly} of the scenario. */
export const EXPECT_HEADER = "vigil-expect";
/** W3C trace context header. */
export const TRACEPARENT_HEADER = "traceparent";

/** One Kafka message to produce. */
export interface ProducedMessage {
  topic: EventType;
  /** Service (logs, metrics) or user id (transactions): keeps an entity's events ordered. */
  key: string;
  /** The event, JSON. */
  value: string;
  headers: Record<string, string>;
  /**
   * Not sent: the traceparent of the span this message's span is a child of
   * (a scenario's root span), so a scenario is one tree in the trace UI.
   */
  parentTraceparent?: string;
}

/**
 * An anomaly a scenario is built to cause under the detector's default
 * rules: one entry per distinct (type, rule, entity); the detector may
 * record it once or more (cooldowns), but nothing not listed here.
 */
export interface ExpectedAnomaly {
  /** Event type (= alert `type`). */
  type: EventType;
  /** Rule name (= alert `rule`), e.g. `error_spike`. */
  rule: string;
  entity: string;
  severity: "WARNING" | "CRITICAL";
  scenario: ScenarioName;
}

/** A scenario injection: its messages and the anomalies they must cause. */
export interface ScenarioInjection {
  name: ScenarioName;
  messages: ProducedMessage[];
  expected: ExpectedAnomaly[];
  /** Trace id shared by every message of the injection (32 hex). */
  traceId: string;
}

/** Options for {@link createGenerator}. */
export interface GeneratorOptions {
  /** PRNG seed (any integer). @default {1} */
  seed?: number;
  /** Normal services. @default {DEFAULT_SERVICES} */
  services?: string[];
  /** User pool size. @default {DEFAULT_USERS} (20,000) */
  users?: number;
  /** Scenarios {@link Generator.nextScenario} rotates through. @default {all} */
  scenarios?: ScenarioName[];
  /** One metric reading per service this often (event time). @default {10000} */
  metricIntervalMs?: number;
  /** Tag in fresh scenario entity names. @default {base-36 of the seed} */
  tag?: string;
}

/** The generator returned by {@link createGenerator}. */
export interface Generator {
  /**
   * `n` normal messages stamped `nowMs`: the metric readings due by then
   * first (at most `n`), then logs and transactions.
   */
  normal(nowMs: number, n: number): ProducedMessage[];
  /**
   * The messages of one injection of `name`, ending at `nowMs` (a statistical
   * scenario's readings start hours to days earlier; `night_value`'s end at
   * the last half hour before `nowMs`).
   */
  scenario(name: ScenarioName, nowMs: number): ScenarioInjection;
  /** The next enabled scenario in rotation, or undefined when none is enabled. */
  nextScenario(): ScenarioName | undefined;
}

/**
 * Severity of `entity_score` per statistical scenario: one measure changes,
 * so the combined score (Fisher over cpu, latency_ms and error_rate) of a
 * score-1 measure beside two normal ones is a WARNING.
 */
const STAT_ENTITY_SEVERITY: Record<typeof STATISTICAL_SCENARIOS[number], "WARNING" | "CRITICAL"> = {
  level_shift: "WARNING",
  variance_change: "WARNING",
  night_value: "WARNING",
  slow_drift: "WARNING",
};

/** Services of normal traffic. */
export const DEFAULT_SERVICES = [
  "api-gateway",
  "auth",
  "payments",
  "orders",
  "inventory",
  "search",
  "notifications",
  "billing",
];
/** Default user pool size. */
export const DEFAULT_USERS = 20_000;
/** Minimum spacing of normal ERROR logs of one service (event time). */
export const ERROR_SPACING_MS = 30_000;

/** Per-user limits of the detector's default rules (events strictly below these). */
const USER_LOG_LIMIT = { count: 10, windowMs: 180_000 };
const USER_TX_LIMIT = { count: 5, windowMs: 300_000 };

/**
 * Most events of one type one user can have in any window of `windowMs`,
 * with round-robin dealing from a pool of `users` at `rate` events/s total.
 */
export function maxUserEventsInWindow(rate: number, windowMs: number, users: number): number {
  return Math.floor((rate * windowMs) / 1000 / users) + 1;
}

/** Smallest user pool keeping every user under both per-user rules at `rate` events/s. */
export function minUsersForRate(rate: number): number {
  let users = 1;
  for (const limit of [USER_LOG_LIMIT, USER_TX_LIMIT]) {
    // floor(R·W/P) + 1 ≤ count − 1  ⇔  R·W/P < count − 1
    const need = Math.floor((rate * limit.windowMs) / 1000 / (limit.count - 1)) + 1;
    users = Math.max(users, need);
  }
  return users;
}

// ---------------------------------------------------------------------------
// PRNG

/** A seeded pseudo-random source (sfc32 seeded by splitmix32). */
export interface Prng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform 32-bit unsigned integer. */
  u32(): number;
  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** Standard normal (Box–Muller). */
  gaussian(): number;
  /** `bytes` random bytes as lowercase hex. */
  hex(bytes: number): string;
}

/** Create a deterministic PRNG from a seed. */
export function createPrng(seed: number): Prng {
  let s = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  const splitmix = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix(), b = splitmix(), c = splitmix(), d = splitmix();
  const u32 = () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) u32();
  const next = () => u32() / 4294967296;
  return {
    next,
    u32,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!,
    gaussian: () => {
      const u = 1 - next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
    },
    hex: (bytes) => {
      let out = "";
      for (let i = 0; i < bytes; i += 4) out += u32().toString(16).padStart(8, "0");
      return out.slice(0, bytes * 2);
    },
  };
}

/** A W3C traceparent: `00-<32 hex trace id>-<16 hex span id>-01` (ids never all zero). */
export function traceparent(traceId: string, spanId: string): string {
  return `00-${traceId}-${spanId}-01`;
}

function nonZeroHex(rng: Prng, bytes: number): string {
  const h = rng.hex(bytes);
  return /^0+$/.test(h) ? h.slice(0, -1) + "1" : h;
}

// ---------------------------------------------------------------------------
// Content

const INFO_MESSAGES = [
  (r: Prng) => `GET /api/v1/orders/${r.int(1000, 99999)} 200 in ${r.int(3, 180)} ms`,
  (r: Prng) => `POST /api/v1/checkout 201 in ${r.int(20, 350)} ms`,
  () => `session started`,
  (r: Prng) => `order ord-${r.hex(4)} created`,
  (r: Prng) => `cache refreshed (${r.int(100, 5000)} entries)`,
  (r: Prng) => `payment authorised for order ord-${r.hex(4)}`,
  (r: Prng) => `email queued to template welcome_v${r.int(1, 4)}`,
  () => `profile updated`,
];
const DEBUG_MESSAGES = [
  (r: Prng) => `cache hit for key product:${r.int(1, 20000)}`,
  (r: Prng) => `query took ${r.int(1, 40)} ms`,
  (r: Prng) => `feature flag new_checkout=${r.next() < 0.5 ? "on" : "off"}`,
];
const WARNING_MESSAGES = [
  (r: Prng) => `slow query: ${r.int(500, 1500)} ms on orders_by_user`,
  (r: Prng) => `retrying upstream call (attempt ${r.int(2, 3)})`,
  (r: Prng) => `connection pool at ${r.int(75, 90)}% capacity`,
  () => `deprecated API version v1 used`,
  (r: Prng) => `rate limit close for client c-${r.hex(3)}`,
];
/** Normal ERROR texts: never contain "fail" (the failed_message rule). */
const ERROR_MESSAGES = [
  (r: Prng) => `upstream timeout after ${r.int(2, 10) * 1000} ms`,
  () => `database connection reset by peer`,
  (r: Prng) => `unexpected response ${r.pick([500, 502, 503, 504])} from upstream`,
  () => `unhandled exception in request handler`,
  () => `circuit breaker open for inventory client`,
];
/** error_burst texts: ERRORs that are not "failed" messages. */
const BURST_MESSAGES = [
  () => `database connection refused`,
  () => `upstream timeout after 5000 ms`,
  () => `connection pool exhausted`,
  () => `out of memory while serialising response`,
];
/** failed_messages texts: each contains "failed" in some case. */
const FAILED_MESSAGES = [
  (r: Prng) => `payment processing failed for order ord-${r.hex(4)}`,
  () => `Login FAILED: invalid credentials`,
  () => `Job Failed after 3 retries`,
];
/** Exported for tests: every normal log template (checked for "fail"). */
export const NORMAL_LOG_TEMPLATES = [
  ...INFO_MESSAGES,
  ...DEBUG_MESSAGES,
  ...WARNING_MESSAGES,
  ...ERROR_MESSAGES,
  ...BURST_MESSAGES,
];
/** Exported for tests: the failed_messages templates. */
export const FAILED_LOG_TEMPLATES = FAILED_MESSAGES;

const MERCHANTS = ["Acme Books", "Blue Cafe", "CloudHost", "FreshMart", "GoRide", "PixelStore"];
const COUNTRIES = ["US", "GB", "DE", "FR", "NL", "ES", "IE"];
const CURRENCIES = ["USD", "EUR", "GBP"];
const PROBLEM_STATUSES: readonly TransactionStatus[] = [
  "denied",
  "failed",
  "reversed",
  "backend_reversed",
];

interface ServiceShape {
  cpuBase: number;
  cpuAmp: number;
  latBase: number;
  latAmp: number;
  periodMs: number;
  phase: number;
  memBase: number;
}

/**
 * Deterministic noise-like wobble in about [−3, 3] (three sines of
 * incommensurate frequencies): the statistical scenarios use it instead of the
 * PRNG so that every injection scores the same and its expectations hold.
 */
function wobble(i: number, channel: number): number {
  return 1.4 * Math.sin(2.399 * i + channel) + 1.0 * Math.sin(0.913 * i + 2 * channel + 1) +
    0.6 * Math.sin(5.071 * i + 3 * channel + 2);
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/**
 * Create a generator. See the module documentation for the guarantees of
 * normal traffic.
 */
export function createGenerator(options: GeneratorOptions = {}): Generator {
  const seed = options.seed ?? 1;
  const rng = createPrng(seed);
  const services = options.services?.length ? [...options.services] : [...DEFAULT_SERVICES];
  const userCount = Math.max(1, Math.trunc(options.users ?? DEFAULT_USERS));
  const metricIntervalMs = options.metricIntervalMs ?? 10_000;
  const enabled = options.scenarios ? [...options.scenarios] : [...SCENARIOS];
  const tag = options.tag ?? (Math.trunc(seed) >>> 0).toString(36);

  // Users: a pool shuffled once (Fisher–Yates), dealt round-robin in a fixed order.
  const width = String(userCount).length;
  const pool = Array.from(
    { length: userCount },
    (_, i) => `user-${String(i + 1).padStart(width, "0")}`,
  );
  for (let i = pool.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  let logCursor = 0;
  let txCursor = Math.floor(userCount / 2);
  const nextLogUser = () => pool[logCursor++ % userCount]!;
  const nextTxUser = () => pool[txCursor++ % userCount]!;

  const shapes = new Map<string, ServiceShape>();
  for (const s of services) {
    shapes.set(s, {
      cpuBase: 20 + rng.next() * 20,
      cpuAmp: 5 + rng.next() * 10,
      latBase: 60 + rng.next() * 140,
      latAmp: 10 + rng.next() * 50,
      periodMs: (20 + rng.next() * 40) * 60_000,
      phase: rng.next() * 2 * Math.PI,
      memBase: 256 + rng.int(0, 1792),
    });
  }
  const nextMetricAt = new Map<string, number>();
  const lastErrorAt = new Map<string, number>();
  // Smooth weighted round-robin: 3 logs : 2 transactions.
  const weights = { logs: 3, transactions: 2 };
  const current = { logs: 0, transactions: 0 };
  let txCounter = 0;
  let injections = 0;
  let rotation = 0;

  const noise = () => rng.next() * 2 - 1 + rng.next() * 2 - 1 + rng.next() * 2 - 1;
  const newTrace = () => nonZeroHex(rng, 16);
  const message = (
    topic: EventType,
    key: string,
    event: Record<string, unknown>,
    traceId = newTrace(),
    extra: Record<string, string> = {},
  ): ProducedMessage => ({
    topic,
    key,
    value: JSON.stringify(event),
    headers: { [TRACEPARENT_HEADER]: traceparent(traceId, nonZeroHex(rng, 8)), ...extra },
  });

  function metricEvent(service: string, nowMs: number) {
    const sh = shapes.get(service)!;
    const wave = Math.sin((2 * Math.PI * nowMs) / sh.periodMs + sh.phase);
    return {
      timestamp: new Date(nowMs).toISOString(),
      service,
      cpu: round(clamp(sh.cpuBase + sh.cpuAmp * wave + noise(), 5, 70), 2),
      latency_ms: round(clamp(sh.latBase + sh.latAmp * wave + 5 * noise(), 20, 400), 1),
      memory: Math.round(sh.memBase * (1 + 0.05 * wave)),
      error_rate: round(clamp(0.002 + 0.001 * noise(), 0, 0.01), 4),
    };
  }

  function logEvent(nowMs: number) {
    const service = rng.pick(services);
    const r = rng.next();
    let level: "DEBUG" | "INFO" | "WARNING" | "ERROR" = r < 0.7
      ? "INFO"
      : r < 0.85
      ? "DEBUG"
      : r < 0.995
      ? "WARNING"
      : "ERROR";
    if (level === "ERROR") {
      const last = lastErrorAt.get(service);
      if (last !== undefined && nowMs - last < ERROR_SPACING_MS) level = "WARNING";
      else lastErrorAt.set(service, nowMs);
    }
    const templates = level === "INFO"
      ? INFO_MESSAGES
      : level === "DEBUG"
      ? DEBUG_MESSAGES
      : level === "WARNING"
      ? WARNING_MESSAGES
      : ERROR_MESSAGES;
    const event: Record<string, unknown> = {
      timestamp: new Date(nowMs).toISOString(),
      service,
      level,
      message: rng.pick(templates)(rng),
    };
    if (rng.next() < 0.7) event.user_id = nextLogUser();
    return message("logs", service, event);
  }

  function amount(): number {
    return round(clamp(Math.exp(Math.log(45) + rng.gaussian()), 1, 2000), 2);
  }

  function transaction(
    nowMs: number,
    user: string,
    status: TransactionStatus,
    value = amount(),
  ): Record<string, unknown> {
    return {
      timestamp: new Date(nowMs).toISOString(),
      transaction_id: `tx-${rng.hex(8)}`,
      user_id: user,
      amount: value,
      currency: rng.pick(CURRENCIES),
      status,
      merchant: rng.pick(MERCHANTS),
      country: rng.pick(COUNTRIES),
    };
  }

  function normal(nowMs: number, n: number): ProducedMessage[] {
    const out: ProducedMessage[] = [];
    if (nextMetricAt.size === 0) {
      services.forEach((s, i) =>
        nextMetricAt.set(s, nowMs + Math.floor((i * metricIntervalMs) / services.length))
      );
    }
    for (const s of services) {
      if (out.length >= n) break;
      const due = nextMetricAt.get(s)!;
      if (due > nowMs) continue;
      out.push(message("metrics", s, metricEvent(s, nowMs)));
      nextMetricAt.set(
        s,
        due + metricIntervalMs > nowMs ? due + metricIntervalMs : nowMs + metricIntervalMs,
      );
    }
    while (out.length < n) {
      current.logs += weights.logs;
      current.transactions += weights.transactions;
      if (current.logs >= current.transactions) {
        current.logs -= weights.logs + weights.transactions;
        out.push(logEvent(nowMs));
      } else {
        current.transactions -= weights.logs + weights.transactions;
        txCounter++;
        const user = nextTxUser();
        const status: TransactionStatus = txCounter % 20 === 0 ? "pending" : "approved";
        out.push(message("transactions", user, transaction(nowMs, user, status)));
      }
    }
    return out;
  }

  /** `count` timestamps spread evenly over `spanMs`, the last at `nowMs`. */
  const spread = (nowMs: number, count: number, spanMs: number) =>
    Array.from(
      { length: count },
      (_, i) => count === 1 ? nowMs : nowMs - spanMs + Math.round((i * spanMs) / (count - 1)),
    );

  function scenario(name: ScenarioName, nowMs: number): ScenarioInjection {
    const n = ++injections;
    const traceId = newTrace();
    const events: { topic: EventType; key: string; event: Record<string, unknown> }[] = [];
    const expected: ExpectedAnomaly[] = [];
    const expect = (
      type: EventType,
      rule: string,
      entity: string,
      severity: "WARNING" | "CRITICAL",
    ) => expected.push({ type, rule, entity, severity, scenario: name });
    const iso = (ms: number) => new Date(ms).toISOString();
    const reading = (service: string, ms: number, cpu: number, latency: number) =>
      events.push({
        topic: "metrics",
        key: service,
        event: {
          timestamp: iso(ms),
          service,
          cpu,
          latency_ms: latency,
          memory: 512,
          error_rate: 0.01,
        },
      });

    switch (name) {
      case "error_burst": {
        // logs/error_spike: ≥ 20 ERRORs for one service within 3 min. 25 in the last 50 s,
        // none containing "failed" (that would add failed_message).
        const service = `svc-burst-${tag}-${n}`;
        for (const ms of spread(nowMs, 25, 50_000)) {
          events.push({
            topic: "logs",
            key: service,
            event: {
              timestamp: iso(ms),
              service,
              level: "ERROR",
              message: rng.pick(BURST_MESSAGES)(),
            },
          });
        }
        expect("logs", "error_spike", service, "CRITICAL");
        break;
      }
      case "failed_messages": {
        // logs/failed_message: ERROR logs containing "failed"; 3 of them (far below 20).
        const service = `svc-failed-${tag}-${n}`;
        spread(nowMs, 3, 10_000).forEach((ms, i) =>
          events.push({
            topic: "logs",
            key: service,
            event: {
              timestamp: iso(ms),
              service,
              level: "ERROR",
              message: FAILED_MESSAGES[i % 3]!(rng),
            },
          })
        );
        expect("logs", "failed_message", service, "WARNING");
        break;
      }
      case "user_log_spike": {
        // logs/user_spike: ≥ 10 logs of one user within 3 min. 15 INFO/WARNING logs in 60 s.
        const user = `user-spike-${tag}-${n}`;
        const service = services[n % services.length]!;
        spread(nowMs, 15, 60_000).forEach((ms, i) =>
          events.push({
            topic: "logs",
            key: service,
            event: {
              timestamp: iso(ms),
              service,
              level: i % 4 === 3 ? "WARNING" : "INFO",
              message: i % 4 === 3
                ? `rate limit close for client c-${rng.hex(3)}`
                : `GET /api/v1/profile 200 in ${rng.int(3, 90)} ms`,
              user_id: user,
            },
          })
        );
        expect("logs", "user_spike", user, "WARNING");
        break;
      }
      case "cpu_sustained": {
        // metrics/cpu_sustained: all CPU ≥ 80 over 5 min, ≥ 3 readings spanning ≥ 4 min.
        // 6 readings one minute apart ending now; latency normal (no latency_high).
        const service = `svc-cpu-${tag}-${n}`;
        for (const ms of spread(nowMs, 6, 300_000)) {
          reading(service, ms, round(85 + rng.next() * 10, 2), round(120 + rng.next() * 150, 1));
        }
        expect("metrics", "cpu_sustained", service, "WARNING");
        break;
      }
      case "latency_spike": {
        // metrics/latency_high: latency > 1000 with normal CPU.
        const service = `svc-latency-${tag}-${n}`;
        reading(service, nowMs, round(30 + rng.next() * 20, 2), round(1500 + rng.next() * 1500, 1));
        expect("metrics", "latency_high", service, "CRITICAL");
        break;
      }
      case "cpu_latency": {
        // metrics/cpu_and_latency: CPU ≥ 80 and latency > 1000 in one reading; also latency_high.
        // One reading only, so cpu_sustained (≥ 3 readings) cannot fire.
        const service = `svc-cpulat-${tag}-${n}`;
        reading(service, nowMs, round(88 + rng.next() * 10, 2), round(1500 + rng.next() * 1500, 1));
        expect("metrics", "cpu_and_latency", service, "CRITICAL");
        expect("metrics", "latency_high", service, "CRITICAL");
        break;
      }
      case "large_amount": {
        // transactions/amount_high: amount > 10,000 (one approved transaction).
        const user = `user-large-${tag}-${n}`;
        events.push({
          topic: "transactions",
          key: user,
          event: transaction(nowMs, user, "approved", round(15_000 + rng.next() * 35_000, 2)),
        });
        expect("transactions", "amount_high", user, "CRITICAL");
        break;
      }
      case "high_frequency_user": {
        // transactions/user_frequency: ≥ 5 transactions of one user within 5 min; 8 in 2 min.
        const user = `user-freq-${tag}-${n}`;
        for (const ms of spread(nowMs, 8, 120_000)) {
          events.push({
            topic: "transactions",
            key: user,
            event: transaction(ms, user, "approved"),
          });
        }
        expect("transactions", "user_frequency", user, "WARNING");
        break;
      }
      case "level_shift":
      case "variance_change":
      case "slow_drift": {
        // A fresh service: one hour of normal readings every 10 s (past the engine's
        // 300-point early phase), then the last readings change. Expectations are
        // checked against the real detector rules (detector/rules/scenarios_test.ts).
        const service = `svc-${name.replace("_", "-")}-${tag}-${n}`;
        const history = 360;
        const changed = name === "slow_drift" ? 120 : 20;
        const total = history + changed;
        for (let i = 0; i < total; i++) {
          const ms = nowMs - (total - 1 - i) * 10_000;
          let cpu = 30 + wobble(i, 0);
          let latency = 120 + 5 * wobble(i, 1);
          const k = i - history; // readings since the change (< 0 before)
          if (k >= 0 && name === "level_shift") latency = 3 * 120 + 5 * wobble(i, 1); // ×3, lasting
          if (k >= 0 && name === "variance_change") {
            // Same level, 15 times the spread: alternating large deviations.
            latency = 120 + (k % 2 === 0 ? 1 : -1) * (75 + 5 * wobble(i, 2));
          }
          if (k >= 0 && name === "slow_drift") cpu += (45 * (k + 1)) / changed; // 30 % → 75 % in 20 min
          events.push({
            topic: "metrics",
            key: service,
            event: {
              timestamp: iso(ms),
              service,
              cpu: round(cpu, 2),
              latency_ms: round(latency, 1),
              memory: 512,
              error_rate: round(clamp(0.002 + 0.001 * wobble(i, 3), 0, 0.01), 4),
            },
          });
        }
        expect("metrics", "metric_score", service, "CRITICAL");
        expect("metrics", "entity_score", service, STAT_ENTITY_SEVERITY[name]);
        break;
      }
      case "night_value": {
        // A fresh service with a daily pattern: latency ~300 ms by day, ~80 ms at night,
        // every 5 min for 16 days (the engine's likelihood remembers 4000 points: the
        // first two days, while the daily pattern is new, must have left it). Its night is the
        // 12 h centred on the last half hour before now (where the readings end), so
        // every injection is the same series up to a shift by whole half hours of the
        // engine's time-of-day buckets; the last 6 readings (30 min) are at the daytime
        // level: normal by day, not at night. The pattern is clean (±0.5 ms) and CPU and
        // error rate flat, so nothing else in two weeks is unusual.
        const service = `svc-night-value-${tag}-${n}`;
        const step = 300_000;
        const last = Math.floor(nowMs / 1_800_000) * 1_800_000;
        const total = 16 * 288 + 6;
        for (let i = 0; i < total; i++) {
          const ms = last - (total - 1 - i) * step;
          const d = ((ms - last) % 86_400_000 + 86_400_000) % 86_400_000;
          const night = d < 21_600_000 || d >= 64_800_000;
          const day = !night || i >= total - 6;
          events.push({
            topic: "metrics",
            key: service,
            event: {
              timestamp: iso(ms),
              service,
              cpu: 30,
              latency_ms: round((day ? 300 : 80) + 0.5 * Math.sin(2.399 * i), 1),
              memory: 512,
              error_rate: 0.002,
            },
          });
        }
        expect("metrics", "metric_score", service, "CRITICAL");
        expect("metrics", "entity_score", service, STAT_ENTITY_SEVERITY[name]);
        break;
      }
      case "failed_tx_burst": {
        // transactions/status_zscore: a problem status with no baseline and count > 0 is
        // CRITICAL (entity = the status). 30 transactions, all in the current minute, each
        // by a fresh user (no user_frequency). The status rotates denied → failed →
        // reversed → backend_reversed so successive injections hit different entities.
        const status = PROBLEM_STATUSES[(n - 1) % PROBLEM_STATUSES.length]!;
        for (let i = 0; i < 30; i++) {
          const user = `user-txburst-${tag}-${n}-${i}`;
          events.push({
            topic: "transactions",
            key: user,
            event: transaction(nowMs, user, status),
          });
        }
        expect("transactions", "status_zscore", status, "CRITICAL");
        break;
      }
    }
    const headers = { [SCENARIO_HEADER]: name, [EXPECT_HEADER]: JSON.stringify(expected) };
    return {
      name,
      expected,
      traceId,
      messages: events.map((e) => message(e.topic, e.key, e.event, traceId, headers)),
    };
  }

  function nextScenario(): ScenarioName | undefined {
    if (enabled.length === 0) return undefined;
    return enabled[rotation++ % enabled.length];
  }

  return { normal, scenario, nextScenario };
}
