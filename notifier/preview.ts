/**
 * Preview of the notification volume: replay alerts (as the notifier took
 * them in, at the times it took them in) through the batcher with a given
 * set of routes on a simulated clock, and count the digests and
 * notifications each route would have produced. The same grouping code as
 * the live notifier, so the preview cannot drift from it. Pure.
 *
 * @module
 */
import type { Alert } from "@vigil/shared/schemas/alert";
import type { RoutePreview, VolumePreview } from "@vigil/shared/schemas/notifier_api";
import { type BatcherOptions, emptyState, ingest, nextDueAt, tick } from "./batcher.ts";
import type { Route } from "./routes.ts";

/** One alert as taken in: when, and what. */
export interface ReplayAlert {
  at: number;
  alert: Alert;
}

/**
 * Replay `alerts` (any order) over `[fromMs, toMs)` with `routes` (the last
 * is the default). Timers fire at their due times, as the live loop does.
 */
export function previewVolume(
  alerts: readonly ReplayAlert[],
  window: { fromMs: number; toMs: number; routes: readonly Route[]; truncated?: boolean },
  options: Omit<BatcherOptions, "routes" | "silences"> = {},
): VolumePreview {
  const opts: BatcherOptions = { ...options, routes: window.routes };
  const perRoute = new Map<string, RoutePreview>(
    window.routes.map((r) => [r.name, {
      route: r.name,
      channels: [...r.channels],
      digests: 0,
      notifications: 0,
      recorded: 0,
    }]),
  );
  const sorted = alerts.filter((a) => a.at >= window.fromMs && a.at < window.toMs)
    .sort((a, b) => a.at - b.at);
  let state = emptyState();
  const count = (r: ReturnType<typeof tick>) => {
    state = r.state;
    for (const d of r.digests) {
      const p = perRoute.get(d.route);
      if (!p) continue;
      p.digests++;
      p.notifications += d.channels.length;
    }
    for (const s of r.settled) {
      if (s.disposition === "recorded" && s.route) {
        const p = perRoute.get(s.route);
        if (p) p.recorded++;
      }
    }
  };
  // Time of the latest intake: like the live loop, a timer that fell due before it runs then,
  // not back in time (a digest stamped earlier would shorten the group's next interval).
  let clock = -Infinity;
  const runTimers = (until: number) => {
    for (let last = -Infinity;;) {
      const due = nextDueAt(state, opts);
      if (due === null || due > until) return;
      const at = Math.max(due, clock);
      // A due time that does not move after its tick would spin: stop there.
      if (at <= last) return;
      last = at;
      count(tick(state, at, opts));
    }
  };
  sorted.forEach((a, i) => {
    runTimers(a.at);
    count(ingest(state, [{ streamId: `replay-${i}`, alert: a.alert }], a.at, opts));
    clock = a.at;
  });
  runTimers(window.toMs - 1);
  const routes = [...perRoute.values()];
  return {
    from: new Date(window.fromMs).toISOString(),
    to: new Date(window.toMs).toISOString(),
    alerts: sorted.length,
    digests: routes.reduce((n, r) => n + r.digests, 0),
    notifications: routes.reduce((n, r) => n + r.notifications, 0),
    routes,
    truncated: window.truncated ?? false,
  };
}
