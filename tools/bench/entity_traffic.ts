/**
 * Bench traffic over a fixed population of distinct entities, for the
 * detector's memory benchmark (`detector_memory.ts`): `users` users and
 * `services` services, each service reporting one metric reading (cpu,
 * latency_ms, error_rate: three statistical series) every
 * `metricIntervalMs`, the rest of the rate logs and transactions. Messages
 * are in the canonical form the bridge appends (`canonicalText`), so
 * `stream_fill.ts` `appendMessages` writes them as the bridge would.
 *
 * Normal traffic only, and by construction under every rule's threshold
 * (as the producer's generator): users are dealt round-robin from a pool
 * shuffled once (one cursor for logs, one for transactions), so a user
 * reappears in a stream exactly `users` draws later; {@link userLoad} gives
 * the most events one user can have in a rule window at a rate. ERROR logs
 * are 0.5 % of logs; metric values stay far from the threshold rules.
 * Pure: seeded PRNG, clock passed in.
 *
 * @module
 */
import { canonicalText } from "@vigil/shared/schemas/canonical";
import type { EventType } from "@vigil/shared/schemas/event";
import { createPrng, traceparent } from "@vigil/producer/prng";
import { type ProducedMessage } from "@vigil/producer/scenario_types";

/** Options of {@link createEntityTraffic}. */
export interface EntityTrafficOptions {
  /** Distinct users. @default {98000} */
  users?: number;
  /** Distinct services (each has 3 metric series). @default {500} */
  services?: number;
  /** One reading per service this often (event time). @default {10000} */
  metricIntervalMs?: number;
  /** Share of the non-metric events that are transactions. @default {0.2} */
  transactionShare?: number;
  /** PRNG seed. @default {1} */
  seed?: number;
}

/** Measures of a reading that the engine scores (rules.json `metric_score.measures`). */
export const SERIES_PER_SERVICE = 3;
/** Share of logs that carry a `user_id`. */
const LOGS_WITH_USER = 0.7;

/** The traffic source. */
export interface EntityTraffic {
  /** `n` messages stamped `nowMs`: the metric readings due first, then logs and transactions. */
  next(nowMs: number, n: number): ProducedMessage[];
  /** The population: users, services, metric series, and their sum. */
  readonly entities: { users: number; services: number; series: number; total: number };
}

/**
 * The most events one user has within `windowMs` when the traffic runs at
 * `rate` events/s: logs (with a user) and transactions separately.
 */
export function userLoad(
  rate: number,
  windowMs: number,
  options: EntityTrafficOptions = {},
): { logs: number; transactions: number } {
  const users = options.users ?? 98_000;
  const services = options.services ?? 500;
  const metrics = services / ((options.metricIntervalMs ?? 10_000) / 1000);
  const rest = Math.max(0, rate - metrics);
  const tx = rest * (options.transactionShare ?? 0.2);
  const perUser = (r: number) => Math.floor((r * windowMs) / 1000 / users) + 1;
  return { logs: perUser((rest - tx) * LOGS_WITH_USER), transactions: perUser(tx) };
}

const LEVELS = ["INFO", "DEBUG", "WARNING", "ERROR"] as const;
const TEXTS: Record<typeof LEVELS[number], readonly string[]> = {
  INFO: ["GET /api/v1/orders 200", "session started", "profile updated", "order created"],
  DEBUG: ["cache hit", "query took 4 ms", "feature flag on"],
  WARNING: ["slow query on orders_by_user", "retrying upstream call", "pool at 80% capacity"],
  ERROR: ["upstream timeout after 5000 ms", "database connection reset by peer"],
};
const CURRENCIES = ["USD", "EUR", "GBP"];
const MERCHANTS = ["Acme Books", "Blue Cafe", "CloudHost", "FreshMart"];
const COUNTRIES = ["US", "GB", "DE", "FR", "NL"];

/** Create the traffic source. */
export function createEntityTraffic(options: EntityTrafficOptions = {}): EntityTraffic {
  const users = Math.max(1, Math.trunc(options.users ?? 98_000));
  const services = Math.max(1, Math.trunc(options.services ?? 500));
  const interval = options.metricIntervalMs ?? 10_000;
  const txShare = options.transactionShare ?? 0.2;
  const rng = createPrng(options.seed ?? 1);
  const userWidth = String(users).length;
  const pool = Array.from(
    { length: users },
    (_, i) => `user-${String(i).padStart(userWidth, "0")}`,
  );
  for (let i = pool.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  const svcWidth = String(services).length;
  const names = Array.from(
    { length: services },
    (_, i) => `svc-${String(i).padStart(svcWidth, "0")}`,
  );
  const base = names.map(() => ({ cpu: 20 + rng.next() * 20, lat: 60 + rng.next() * 140 }));
  let logCursor = 0;
  let txCursor = Math.floor(users / 2);
  let txCredit = 0;
  let userCredit = 0;
  let metricCursor = 0;
  let nextMetricAt = NaN;
  let txCounter = 0;

  const message = (topic: EventType, key: string, event: Record<string, unknown>) => ({
    topic,
    key,
    value: canonicalText(topic, event),
    headers: { traceparent: traceparent(rng.hex(16), rng.hex(8)) },
  });
  const noise = () => rng.next() + rng.next() + rng.next() - 1.5;

  function reading(i: number, ts: string, nowMs: number): ProducedMessage {
    const b = base[i]!;
    const wave = Math.sin(nowMs / 600_000 + i);
    return message("metrics", names[i]!, {
      timestamp: ts,
      service: names[i]!,
      cpu: Math.round((b.cpu + 5 * wave + 2 * noise()) * 100) / 100,
      latency_ms: Math.round((b.lat + 20 * wave + 5 * noise()) * 10) / 10,
      memory: 512,
      error_rate: Math.round((0.002 + 0.001 * noise()) * 10_000) / 10_000,
    });
  }

  function log(ts: string): ProducedMessage {
    const service = rng.pick(names);
    const r = rng.next();
    const level = r < 0.7 ? "INFO" : r < 0.85 ? "DEBUG" : r < 0.995 ? "WARNING" : "ERROR";
    const event: Record<string, unknown> = {
      timestamp: ts,
      service,
      level,
      message: rng.pick(TEXTS[level]),
    };
    userCredit += LOGS_WITH_USER; // a fixed share, not a coin flip: per-user counts stay bounded
    if (userCredit >= 1) {
      userCredit -= 1;
      event.user_id = pool[logCursor++ % users]!;
    }
    return message("logs", service, event);
  }

  function transaction(ts: string): ProducedMessage {
    const user = pool[txCursor++ % users]!;
    return message("transactions", user, {
      timestamp: ts,
      transaction_id: `tx-${rng.hex(8)}`,
      user_id: user,
      amount:
        Math.round(Math.min(2000, Math.max(1, Math.exp(Math.log(45) + rng.gaussian()))) * 100) /
        100,
      currency: rng.pick(CURRENCIES),
      status: ++txCounter % 20 === 0 ? "pending" : "approved",
      merchant: rng.pick(MERCHANTS),
      country: rng.pick(COUNTRIES),
    });
  }

  return {
    entities: {
      users,
      services,
      series: services * SERIES_PER_SERVICE,
      total: users + services * (1 + SERIES_PER_SERVICE),
    },
    next(nowMs, n) {
      const out: ProducedMessage[] = [];
      const ts = new Date(nowMs).toISOString();
      // Readings spread evenly: service i is due at start + k * interval + i * interval / services.
      if (Number.isNaN(nextMetricAt)) nextMetricAt = nowMs;
      while (out.length < n && nextMetricAt <= nowMs) {
        out.push(reading(metricCursor, ts, nowMs));
        metricCursor = (metricCursor + 1) % services;
        nextMetricAt += interval / services;
      }
      while (out.length < n) {
        txCredit += txShare;
        if (txCredit >= 1) {
          txCredit -= 1;
          out.push(transaction(ts));
        } else {
          out.push(log(ts));
        }
      }
      return out;
    },
  };
}
