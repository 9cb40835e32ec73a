/**
 * Digest volume of a busy installation under the default timers (17.13):
 * one hour of alerts arriving every 10 s over every type and severity,
 * replayed through the batcher (preview.ts) on a simulated clock.
 */
import assert from "node:assert/strict";
import { EVENT_TYPES } from "@vigil/shared/schemas/event";
import { SEVERITIES } from "@vigil/shared/schemas/alert";
import { loadConfig } from "./config.ts";
import { previewVolume, type ReplayAlert } from "./preview.ts";
import type { Route } from "./routes.ts";
import { alert } from "./_batcher_testing.ts";

const T0 = Date.parse("2025-03-01T10:00:00Z");
const H = 3_600_000;

function busyHour(): ReplayAlert[] {
  return Array.from({ length: 360 }, (_, i) => {
    const at = T0 + i * 10_000;
    const iso = new Date(at).toISOString();
    return {
      at,
      alert: alert({
        id: `a${i}`,
        detected_at: iso,
        event_time: iso,
        type: EVENT_TYPES[i % EVENT_TYPES.length]!,
        rule: `rule${i % 5}`,
        severity: SEVERITIES[i % SEVERITIES.length]!,
        entity: `svc${i % 40}`,
      }),
    };
  });
}

function digestsWith(route: Route, options: { inhibitRules?: [] } = {}): number {
  return previewVolume(busyHour(), { fromMs: T0, toMs: T0 + H, routes: [route] }, options)
    .digests;
}

Deno.test("default timers keep a busy hour to 12 digests per channel", () => {
  const route = loadConfig({}).defaultRoute;
  // First after GROUP_WAIT (30 s), then one per GROUP_INTERVAL (5 min).
  assert.equal(digestsWith(route), 12);
  // The former defaults (type × severity groups, 60 s, no inhibition): one every 20 s, as
  // issue 17 saw.
  assert.equal(
    digestsWith({ ...route, groupBy: ["type", "severity"], groupIntervalMs: 60_000 }, {
      inhibitRules: [],
    }),
    180,
  );
});

Deno.test("previewVolume() counts notifications per route and channel", () => {
  const route = {
    ...loadConfig({}).defaultRoute,
    channels: ["email" as const, "discord" as const],
  };
  const p = previewVolume(busyHour(), { fromMs: T0, toMs: T0 + H / 2, routes: [route] });
  assert.equal(p.alerts, 180);
  assert.equal(p.digests, 6);
  assert.equal(p.notifications, 12);
  assert.deepEqual(p.routes.map((r) => [r.route, r.digests, r.notifications]), [[
    "default",
    6,
    12,
  ]]);
});
