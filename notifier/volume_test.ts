/**
 * Digest volume of a busy installation under the default timers (17.13):
 * one hour of alerts arriving every 10 s over every type and severity,
 * replayed through the batcher (preview.ts) on a simulated clock.
 */
import assert from "node:assert/strict";
import { EVENT_TYPES } from "@vigil/shared/schemas/event";
import { SEVERITIES } from "@vigil/shared/schemas/alert";
import { loadConfig } from "./config.ts";
import { type PreviewOptions, previewVolumeAsync, type ReplayAlert } from "./preview.ts";
import type { Route } from "./routes.ts";
import { alert } from "@vigil/tools/testing/batcher";

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

/** The replay of the preview, without its time budget. */
function previewVolume(
  alerts: readonly ReplayAlert[],
  window: Omit<PreviewOptions, "budgetMs">,
  options: { inhibitRules?: [] } = {},
) {
  return previewVolumeAsync(alerts, { ...window, ...options, budgetMs: Infinity });
}

async function digestsWith(route: Route, options: { inhibitRules?: [] } = {}): Promise<number> {
  return (await previewVolume(busyHour(), { fromMs: T0, toMs: T0 + H, routes: [route] }, options))
    .digests;
}

Deno.test("default timers keep a busy hour to 12 digests per channel", async () => {
  const route = loadConfig({}).defaultRoute;
  // First after GROUP_WAIT (30 s), then one per GROUP_INTERVAL (5 min).
  assert.equal(await digestsWith(route), 12);
  // The former defaults (type × severity groups, 60 s, no inhibition): one every 20 s, as
  // issue 17 saw.
  assert.equal(
    await digestsWith({ ...route, groupBy: ["type", "severity"], groupIntervalMs: 60_000 }, {
      inhibitRules: [],
    }),
    180,
  );
});

Deno.test("previewVolumeAsync() counts notifications per route and channel", async () => {
  const route = {
    ...loadConfig({}).defaultRoute,
    channels: ["email" as const, "discord" as const],
  };
  const p = await previewVolume(busyHour(), { fromMs: T0, toMs: T0 + H / 2, routes: [route] });
  assert.equal(p.alerts, 180);
  assert.equal(p.digests, 6);
  assert.equal(p.notifications, 12);
  assert.deepEqual(p.routes.map((r) => [r.route, r.digests, r.notifications]), [[
    "default",
    6,
    12,
  ]]);
});

Deno.test("alerts that fire and resolve one after another still get at most one digest per interval", async () => {
  // Each alert resolves 5 s after it fired and the next fires 35 s later: every group emptied
  // before the next alert. Forgetting the emptied group at once made each alert a new group,
  // sent after GROUP_WAIT: 90 digests in the hour instead of at most 12 (+ the last resolution).
  const route = loadConfig({}).defaultRoute;
  const replay: ReplayAlert[] = [];
  for (let i = 0; i < 90; i++) {
    const at = T0 + i * 40_000;
    const fired = alert({
      id: `f${i}`,
      detected_at: new Date(at).toISOString(),
      event_time: new Date(at).toISOString(),
    });
    replay.push({ at, alert: fired });
    const resolvedAt = new Date(at + 5_000).toISOString();
    replay.push({
      at: at + 5_000,
      alert: { ...fired, status: "resolved", resolved_at: resolvedAt, detected_at: resolvedAt },
    });
  }
  const p = await previewVolume(replay, { fromMs: T0, toMs: T0 + H, routes: [route] });
  assert.ok(p.digests <= 13, `${p.digests} digests`);
});

Deno.test("previewVolumeAsync() runs a timer that fell due before the latest alert at that alert, as the notifier does", async () => {
  // P and X fire at 0 (one digest at 30 s); X resolves at 1000 s (sent at once: the interval
  // is long past); Y1 and Y2 fire at 1010 s and 1020 s, sent together one interval after the
  // 1000 s digest. Ticking back in time at the due time stamped that digest before the
  // resolution, so Y1 went alone and Y2 after it: 4 digests where the notifier sends 3.
  const route = loadConfig({}).defaultRoute;
  const at = (s: number) => T0 + s * 1000;
  const fire = (id: string, s: number): ReplayAlert => ({
    at: at(s),
    alert: alert({
      id,
      entity: id,
      detected_at: new Date(at(s)).toISOString(),
      event_time: new Date(at(s)).toISOString(),
    }),
  });
  const x = fire("X", 0);
  const resolved = new Date(at(1000)).toISOString();
  const replay = [
    fire("P", 0),
    x,
    {
      at: at(1000),
      alert: {
        ...x.alert,
        status: "resolved" as const,
        resolved_at: resolved,
        detected_at: resolved,
      },
    },
    fire("Y1", 1010),
    fire("Y2", 1020),
  ];
  const p = await previewVolume(replay, { fromMs: T0, toMs: T0 + H, routes: [route] });
  assert.equal(p.digests, 3);
});
