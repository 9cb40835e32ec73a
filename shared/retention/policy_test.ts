import assert from "node:assert/strict";
import { z } from "zod";
import { parseEnv } from "../config.ts";
import {
  CATCH_UP_PAUSE_MS,
  nextRetentionDelayMs,
  RETENTION_POLICIES,
  retentionConfig,
  retentionCutoffs,
  retentionEnv,
} from "./policy.ts";

const DAY = 86_400_000;
const schema = z.object(retentionEnv);

Deno.test("retentionEnv defaults: documented ages, hourly runs, batches of 1000", () => {
  const c = retentionConfig(parseEnv("notifier", schema, {}));
  assert.deepEqual(c, {
    enabled: true,
    intervalMs: 3_600_000,
    batchSize: 1000,
    maxBatches: 100,
    ages: {
      anomaly_events: 90 * DAY,
      notifier_digests: 90 * DAY,
      notification_attempts: 30 * DAY,
      notifier_alerts: 30 * DAY,
      silences: 30 * DAY,
    },
  });
});

Deno.test("retentionEnv rejects an age without a unit (30 = 30 ms) and accepts 0 and 7d", () => {
  assert.throws(
    () => parseEnv("notifier", schema, { RETENTION_ANOMALY_EVENTS: "30" }),
    /RETENTION_ANOMALY_EVENTS must be 0 \(keep forever\) or at least 1h/,
  );
  // 90 days in seconds would be 2 h in milliseconds: refused, not read as 2 h.
  assert.throws(
    () => parseEnv("notifier", schema, { RETENTION_NOTIFICATIONS: "7776000" }),
    /RETENTION_NOTIFICATIONS must be 0 \(keep forever\) or at least 1h, with a unit/,
  );
  assert.throws(
    () => parseEnv("notifier", schema, { RETENTION_SILENCES: "soon" }),
    /RETENTION_SILENCES is not a duration/,
  );
  assert.throws(
    () => parseEnv("notifier", schema, { RETENTION_INTERVAL: "5s" }),
    /RETENTION_INTERVAL must be between 1m and 7d/,
  );
  assert.throws(
    () => parseEnv("notifier", schema, { RETENTION_BATCH_SIZE: "0" }),
    /RETENTION_BATCH_SIZE/,
  );
  const c = retentionConfig(
    parseEnv("notifier", schema, {
      RETENTION_ANOMALY_EVENTS: "0",
      RETENTION_NOTIFIER_ALERTS: "7d",
      RETENTION_ENABLED: "false",
    }),
  );
  assert.equal(c.ages.anomaly_events, 0);
  assert.equal(c.ages.notifier_alerts, 7 * DAY);
  assert.equal(c.enabled, false);
});

Deno.test("retentionCutoffs() takes each age back from the clock and skips age 0", () => {
  const now = Date.parse("2026-03-01T00:00:00Z");
  const cutoffs = retentionCutoffs({ anomaly_events: 0, notifier_alerts: DAY }, now);
  const byTable = Object.fromEntries(cutoffs.map((c) => [c.policy.table, c.cutoff.toISOString()]));
  assert.equal(byTable.anomaly_events, undefined, "0 keeps forever");
  assert.equal(byTable.notifier_alerts, "2026-02-28T00:00:00.000Z");
  // Tables missing from `ages` use their default.
  assert.equal(byTable.silences, "2026-01-30T00:00:00.000Z");
  assert.equal(cutoffs.length, RETENTION_POLICIES.length - 1);
});

const HOUR = 3_600_000;

Deno.test("nextRetentionDelayMs(): the interval when done, a bounded catch-up pause when not", () => {
  assert.equal(nextRetentionDelayMs({ unfinished: [], tookMs: 90_000 }, HOUR), HOUR);
  const left = ["notifier_alerts"];
  // A quick run: the minimum pause; a long one: as long again (deleting at most half the time).
  assert.equal(nextRetentionDelayMs({ unfinished: left, tookMs: 2_000 }, HOUR), CATCH_UP_PAUSE_MS);
  assert.equal(nextRetentionDelayMs({ unfinished: left, tookMs: 90_000 }, HOUR), 90_000);
  // Never more than the interval; a clock set back during the run: the minimum.
  assert.equal(nextRetentionDelayMs({ unfinished: left, tookMs: 2 * HOUR }, HOUR), HOUR);
  assert.equal(nextRetentionDelayMs({ unfinished: left, tookMs: -HOUR }, HOUR), CATCH_UP_PAUSE_MS);
  assert.equal(nextRetentionDelayMs({ unfinished: left, tookMs: 0 }, HOUR, 50), 50);
});

Deno.test("nextRetentionDelayMs(): a run that failed for a table is tried again in a minute", () => {
  // It used to wait the whole interval: an hour more of growth after a blip.
  assert.equal(
    nextRetentionDelayMs({ unfinished: [], tookMs: 0, failed: ["silences"] }, HOUR),
    60_000,
  );
  assert.equal(
    nextRetentionDelayMs({ unfinished: ["x"], tookMs: 0, failed: ["silences"] }, HOUR),
    60_000,
  );
  assert.equal(nextRetentionDelayMs({ unfinished: [], tookMs: 0, failed: ["x"] }, 30_000), 30_000);
  assert.equal(nextRetentionDelayMs({ unfinished: [], tookMs: 0, failed: [] }, HOUR), HOUR);
});
