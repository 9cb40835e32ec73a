/**
 * The events of each labelled anomaly scenario and the anomalies they must
 * cause under the detector's default rules (each case names its rule). Pure:
 * the generator passes its PRNG, tag and services in.
 *
 * @module
 */
import {
  type EventType,
  PROBLEM_STATUSES,
  type TransactionStatus,
} from "@vigil/shared/schemas/event";
import { BURST_MESSAGES, clamp, FAILED_MESSAGES, round, transactionEvent } from "./content.ts";
import type { Prng } from "./prng.ts";
import type { ExpectedAnomaly, ScenarioName } from "./scenario_types.ts";

/** One event of a scenario, before it becomes a message. */
export interface ScenarioEvent {
  topic: EventType;
  key: string;
  event: Record<string, unknown>;
}

/** What a scenario draws on: the generator's PRNG, tag and normal services. */
export interface ScenarioContext {
  rng: Prng;
  /** Tag in fresh entity names. */
  tag: string;
  services: readonly string[];
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

/** `count` timestamps spread evenly over `spanMs`, the last at `nowMs`. */
function spread(nowMs: number, count: number, spanMs: number): number[] {
  return Array.from(
    { length: count },
    (_, i) => count === 1 ? nowMs : nowMs - spanMs + Math.round((i * spanMs) / (count - 1)),
  );
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The events of injection number `n` of `name`, ending at `nowMs`, and the
 * anomalies they must cause.
 */
export function scenarioEvents(
  name: ScenarioName,
  n: number,
  nowMs: number,
  ctx: ScenarioContext,
): { events: ScenarioEvent[]; expected: ExpectedAnomaly[] } {
  const { rng, tag, services } = ctx;
  const events: ScenarioEvent[] = [];
  const expected: ExpectedAnomaly[] = [];
  const expect = (
    type: EventType,
    rule: string,
    entity: string,
    severity: "WARNING" | "CRITICAL",
  ) => expected.push({ type, rule, entity, severity, scenario: name });
  const log = (service: string, ms: number, level: string, message: string, user?: string) =>
    events.push({
      topic: "logs",
      key: service,
      event: {
        timestamp: iso(ms),
        service,
        level,
        message,
        ...(user === undefined ? {} : { user_id: user }),
      },
    });
  const reading = (service: string, ms: number, cpu: number, latency: number, errorRate = 0.01) =>
    events.push({
      topic: "metrics",
      key: service,
      event: {
        timestamp: iso(ms),
        service,
        cpu,
        latency_ms: latency,
        memory: 512,
        error_rate: errorRate,
      },
    });
  const transaction = (user: string, ms: number, status: TransactionStatus, value?: number) =>
    events.push({
      topic: "transactions",
      key: user,
      event: transactionEvent(rng, ms, user, status, value),
    });
  const expectStatistical = (service: string) => {
    expect("metrics", "metric_score", service, "CRITICAL");
    // Every statistical scenario changes one measure, so the combined score (Fisher over cpu,
    // latency_ms and error_rate) of a score-1 measure beside two normal ones is a WARNING.
    expect("metrics", "entity_score", service, "WARNING");
  };

  switch (name) {
    case "error_burst": {
      // logs/error_spike: ≥ 20 ERRORs for one service within 3 min. 25 in the last 50 s,
      // none containing "failed" (that would add failed_message).
      const service = `svc-burst-${tag}-${n}`;
      for (const ms of spread(nowMs, 25, 50_000)) {
        log(service, ms, "ERROR", rng.pick(BURST_MESSAGES)(rng));
      }
      expect("logs", "error_spike", service, "CRITICAL");
      break;
    }
    case "failed_messages": {
      // logs/failed_message: ERROR logs containing "failed"; 3 of them (far below 20).
      const service = `svc-failed-${tag}-${n}`;
      spread(nowMs, 3, 10_000).forEach((ms, i) =>
        log(service, ms, "ERROR", FAILED_MESSAGES[i % 3]!(rng))
      );
      expect("logs", "failed_message", service, "WARNING");
      break;
    }
    case "user_log_spike": {
      // logs/user_spike: ≥ 10 logs of one user within 3 min. 15 INFO/WARNING logs in 60 s.
      const user = `user-spike-${tag}-${n}`;
      const service = services[n % services.length]!;
      spread(nowMs, 15, 60_000).forEach((ms, i) =>
        i % 4 === 3
          ? log(service, ms, "WARNING", `rate limit close for client c-${rng.hex(3)}`, user)
          : log(service, ms, "INFO", `GET /api/v1/profile 200 in ${rng.int(3, 90)} ms`, user)
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
      transaction(user, nowMs, "approved", round(15_000 + rng.next() * 35_000, 2));
      expect("transactions", "amount_high", user, "CRITICAL");
      break;
    }
    case "high_frequency_user": {
      // transactions/user_frequency: ≥ 5 transactions of one user within 5 min; 8 in 2 min.
      const user = `user-freq-${tag}-${n}`;
      for (const ms of spread(nowMs, 8, 120_000)) transaction(user, ms, "approved");
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
        const errorRate = round(clamp(0.002 + 0.001 * wobble(i, 3), 0, 0.01), 4);
        reading(service, ms, round(cpu, 2), round(latency, 1), errorRate);
      }
      expectStatistical(service);
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
        reading(service, ms, 30, round((day ? 300 : 80) + 0.5 * Math.sin(2.399 * i), 1), 0.002);
      }
      expectStatistical(service);
      break;
    }
    case "failed_tx_burst": {
      // transactions/status_zscore: a problem status with no baseline and count > 0 is
      // CRITICAL (entity = the status). 30 transactions, all in the current minute, each
      // by a fresh user (no user_frequency). The status rotates denied → failed →
      // reversed → backend_reversed so successive injections hit different entities.
      const status = PROBLEM_STATUSES[(n - 1) % PROBLEM_STATUSES.length]!;
      for (let i = 0; i < 30; i++) transaction(`user-txburst-${tag}-${n}-${i}`, nowMs, status);
      expect("transactions", "status_zscore", status, "CRITICAL");
      break;
    }
  }
  return { events, expected };
}
