/**
 * What the generator produces: the scenario names (in rotation order), the
 * message headers, and the message and expectation types that the run loop,
 * the Kafka sink and the end-to-end tests share.
 *
 * @module
 */
import type { EventType } from "@vigil/shared/schemas/event";

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
