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
import { sleep } from "@vigil/shared/lifecycle";
import type { RoutePreview, VolumePreview } from "@vigil/shared/schemas/notifier_api";
import { type BatcherOptions, emptyState, ingest, nextDueAt, tick } from "./batcher.ts";

/** One alert as taken in: when, and what. */
export interface ReplayAlert {
  at: number;
  alert: Alert;
}

/** What a preview replays: its window, the routes (the last is the default) and the batcher's settings. */
export type PreviewOptions = Omit<BatcherOptions, "silences"> & {
  fromMs: number;
  toMs: number;
  truncated?: boolean;
  /** Give up after this long (ms). */
  budgetMs: number;
};

/**
 * Replay `alerts` (any order) over `[fromMs, toMs)` with `routes`. Timers
 * fire at their due times, as the live loop does.
 * The replay does not hold the event loop: it gives way
 * every 20 ms of work (the notifier's intake, digests and /health go on),
 * and gives up after `budgetMs`. Thousands of alerts held at once cost seconds
 * (each step of the batcher copies and scans the state it holds).
 *
 * @throws {RangeError} "Cannot preview: …" when the replay takes longer than `budgetMs`
 */
export async function previewVolumeAsync(
  alerts: readonly ReplayAlert[],
  options: PreviewOptions,
): Promise<VolumePreview> {
  const sliceMs = 20;
  const started = performance.now();
  let slice = started;
  const steps = replay(alerts, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    const t = performance.now();
    if (t - started > options.budgetMs) {
      throw new RangeError(
        `Cannot preview: too many alerts to replay within ${options.budgetMs / 1000} s ` +
          `(${alerts.length} in the window); ask for a shorter window`,
      );
    }
    if (t - slice >= sliceMs) {
      await sleep(0);
      slice = performance.now();
    }
  }
}

/** The replay of {@link previewVolumeAsync}, one step per alert. */
function* replay(
  alerts: readonly ReplayAlert[],
  opts: PreviewOptions,
): Generator<void, VolumePreview> {
  const perRoute = new Map<string, RoutePreview>(
    opts.routes.map((r) => [r.name, {
      route: r.name,
      channels: [...r.channels],
      digests: 0,
      notifications: 0,
      recorded: 0,
    }]),
  );
  const sorted = alerts.filter((a) => a.at >= opts.fromMs && a.at < opts.toMs)
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
      const p = s.disposition === "recorded" && s.route ? perRoute.get(s.route) : undefined;
      if (p) p.recorded++;
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
  for (const [i, a] of sorted.entries()) {
    runTimers(a.at);
    count(ingest(state, [{ streamId: `replay-${i}`, alert: a.alert }], a.at, opts));
    clock = a.at;
    yield;
  }
  runTimers(opts.toMs - 1);
  const routes = [...perRoute.values()];
  return {
    from: new Date(opts.fromMs).toISOString(),
    to: new Date(opts.toMs).toISOString(),
    alerts: sorted.length,
    digests: routes.reduce((n, r) => n + r.digests, 0),
    notifications: routes.reduce((n, r) => n + r.notifications, 0),
    routes,
    truncated: opts.truncated ?? false,
  };
}
