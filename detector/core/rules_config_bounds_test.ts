/**
 * Numbers of the rules file that are valid on their own but make a rule alert
 * on everything (a cooldown of 0, a z-score threshold at or below 0).
 */
import assert from "node:assert/strict";
import { parseRulesConfig } from "./rules_config.ts";

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

Deno.test("parseRulesConfig() refuses a cooldown, z-score, band, cpu or latency threshold that alerts on everything", () => {
  for (
    const [value, expected] of [
      // 0 alerted on every matching event, and resolved a time-cleared condition at once.
      [{ cooldown: 0 }, "cooldown: must be at least 1s"],
      [{ cooldown: "500ms" }, "cooldown: must be at least 1s"],
      // z > -1 holds for an average minute: every status alerted every minute.
      [
        { transactions: { status_zscore: { warning: -1 } } },
        "transactions.status_zscore.warning: must be above 0",
      ],
      [
        { transactions: { status_zscore: { warning: 0, critical: 0 } } },
        "transactions.status_zscore.critical: must be above 0",
      ],
      // A score is at least 0: a band of 0 raised every reading.
      [
        { metrics: { metric_score: { bands: { warning: 0, clear: 0 } } } },
        "metrics.metric_score.bands.warning: must be above 0",
      ],
      [
        { metrics: { entity_score: { bands: { warning: 0, clear: 0 } } } },
        "metrics.entity_score.bands.warning: must be above 0",
      ],
      // Every reading is at or above 0 %.
      [{ metrics: { cpu_sustained: { cpu: 0 } } }, "metrics.cpu_sustained.cpu: must be above 0"],
      [
        { metrics: { cpu_and_latency: { cpu: 0 } } },
        "metrics.cpu_and_latency.cpu: must be above 0",
      ],
      // Strictly above 0 ms: every reading but an instant one.
      [
        { metrics: { latency_high: { latency_ms: 0 } } },
        "metrics.latency_high.latency_ms: must be above 0",
      ],
      [
        { metrics: { cpu_and_latency: { latency_ms: 0 } } },
        "metrics.cpu_and_latency.latency_ms: must be above 0",
      ],
    ] as const
  ) {
    const message = rejection(value);
    assert.ok(message.includes(expected), `${message}\n  should include ${expected}`);
  }
  const ok = parseRulesConfig({
    cooldown: "1s",
    transactions: { status_zscore: { warning: 0.5, critical: 0.5 } },
    metrics: { metric_score: { bands: { warning: 0.01, clear: 0 } }, cpu_sustained: { cpu: 1 } },
  });
  assert.equal(ok.cooldown, 1000);
});
