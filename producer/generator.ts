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
 *   pool a higher rate needs.
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
import {
  clamp,
  DEBUG_MESSAGES,
  ERROR_MESSAGES,
  INFO_MESSAGES,
  round,
  transactionEvent,
  WARNING_MESSAGES,
} from "./content.ts";
import { createPrng, nonZeroHex, traceparent } from "./prng.ts";
import {
  EXPECT_HEADER,
  type ProducedMessage,
  SCENARIO_HEADER,
  type ScenarioInjection,
  type ScenarioName,
  SCENARIOS,
  TRACEPARENT_HEADER,
} from "./scenario_types.ts";
import { scenarioEvents } from "./scenarios.ts";

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

/** Normal log templates by level. */
const TEMPLATES = {
  INFO: INFO_MESSAGES,
  DEBUG: DEBUG_MESSAGES,
  WARNING: WARNING_MESSAGES,
  ERROR: ERROR_MESSAGES,
};

/** Per-user limits of the detector's default rules (events strictly below these). */
const USER_LOG_LIMIT = { count: 10, windowMs: 180_000 };
const USER_TX_LIMIT = { count: 5, windowMs: 300_000 };

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
  /** Injections so far per scenario: `n` of {@link scenarioEvents} counts only its own. */
  const injections = new Map<ScenarioName, number>();
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
    const event: Record<string, unknown> = {
      timestamp: new Date(nowMs).toISOString(),
      service,
      level,
      message: rng.pick(TEMPLATES[level])(rng),
    };
    if (rng.next() < 0.7) event.user_id = nextLogUser();
    return message("logs", service, event);
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
        out.push(message("transactions", user, transactionEvent(rng, nowMs, user, status)));
      }
    }
    return out;
  }

  function scenario(name: ScenarioName, nowMs: number): ScenarioInjection {
    const n = (injections.get(name) ?? 0) + 1;
    injections.set(name, n);
    const traceId = newTrace();
    const { events, expected } = scenarioEvents(name, n, nowMs, { rng, tag, services });
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
