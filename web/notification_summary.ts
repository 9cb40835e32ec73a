/**
 * What the notifier sent or planned in a recent window, per route and
 * channel, built from the figures read out of its tables (`notifier_digests`,
 * `notifications`, `notifier_alerts`; see `notificationFigures` in
 * store.ts). Pure: the SQL only counts, this module shapes and totals.
 *
 * Definitions (for a window `[from, to)`):
 *
 * - `planned`: notifications (one digest on one channel) created in the window;
 * - `sent`: notifications the channel accepted in the window (`sent_at`),
 *   whenever they were planned;
 * - `pending`: notifications still waiting to be sent now, of any age;
 * - `failed`: notifications planned in the window that were given up;
 * - `waiting_alerts`: alerts taken in during the window, grouped, and not in
 *   any digest yet (the group's next digest will carry them), acknowledged
 *   ones left out (the notifier keeps those quiet: no digest will carry them);
 * - `intake`: alerts taken in during the window by what became of them
 *   (`grouped`, `silenced`, `duplicate`, …).
 *
 * @module
 */
import type { z } from "zod";
import type { notificationSummarySchema } from "./api_responses.ts";

/** The answer of `GET /api/notifications/summary` (the route adds `notifier_api`). */
export type NotificationSummary = Omit<z.infer<typeof notificationSummarySchema>, "notifier_api">;
type RouteSummary = NotificationSummary["routes"][number];
type ChannelCounts = NotificationSummary["channels"][number];
/** Counts of notifications. */
type NotificationCounts = Omit<ChannelCounts, "channel">;

/** Per route and channel, as counted by the store. */
export type ChannelFigures = ChannelCounts & { route: string };

/** Digests planned in the window, per route and kind (`digest`, `repeat`, `immediate`). */
export interface DigestFigures {
  route: string;
  kind: string;
  digests: number;
  /** Alerts listed by these digests. */
  alerts: number;
}

/** Everything the store counts for a summary. */
export interface NotificationFigures {
  channels: ChannelFigures[];
  digests: DigestFigures[];
  /** Grouped alerts of the window not in a digest yet, per route. */
  waiting: { route: string; alerts: number }[];
  /** Alerts taken in during the window, per disposition. */
  intake: { disposition: string; alerts: number }[];
}

const DEFAULT_ROUTE = "default";
const COUNTS = ["planned", "sent", "pending", "failed", "alerts_sent"] as const;

function zero(): NotificationCounts {
  return { planned: 0, sent: 0, pending: 0, failed: 0, alerts_sent: 0 };
}

function add(into: NotificationCounts, from: NotificationCounts): void {
  for (const k of COUNTS) into[k] += from[k];
}

function byRouteName(a: string, b: string): number {
  if (a === b) return 0;
  if (a === DEFAULT_ROUTE) return 1;
  if (b === DEFAULT_ROUTE) return -1;
  return a < b ? -1 : 1;
}

/**
 * Shape the store's figures into the summary: one entry per route seen in
 * any figure, channels sorted by name, totals per channel and overall.
 *
 * @throws {RangeError} when `fromMs` is not before `toMs`
 */
export function summarizeNotifications(
  figures: NotificationFigures,
  window: { fromMs: number; toMs: number },
): NotificationSummary {
  if (!(window.fromMs < window.toMs)) {
    throw new RangeError(
      `Cannot summarize notifications: 'fromMs' must be before 'toMs': current values are ${window.fromMs} and ${window.toMs}`,
    );
  }
  const routes = new Map<string, RouteSummary>();
  const route = (name: string): RouteSummary => {
    let r = routes.get(name);
    if (!r) {
      r = {
        route: name,
        digests: 0,
        digests_by_kind: {},
        alerts_in_digests: 0,
        waiting_alerts: 0,
        channels: [],
      };
      routes.set(name, r);
    }
    return r;
  };
  const channels = new Map<string, ChannelCounts>();
  const totals = { ...zero(), digests: 0, waiting_alerts: 0 };
  for (const d of figures.digests) {
    const r = route(d.route);
    r.digests += d.digests;
    r.digests_by_kind[d.kind] = (r.digests_by_kind[d.kind] ?? 0) + d.digests;
    r.alerts_in_digests += d.alerts;
    totals.digests += d.digests;
  }
  for (const c of figures.channels) {
    const { route: name, channel: _, ...counts } = c;
    const r = route(name);
    const own = r.channels.find((x) => x.channel === c.channel);
    if (own) add(own, counts);
    else r.channels.push({ channel: c.channel, ...counts });
    let total = channels.get(c.channel);
    if (!total) channels.set(c.channel, total = { channel: c.channel, ...zero() });
    add(total, counts);
    add(totals, counts);
  }
  for (const w of figures.waiting) {
    route(w.route).waiting_alerts += w.alerts;
    totals.waiting_alerts += w.alerts;
  }
  const byDisposition: Record<string, number> = {};
  let intake = 0;
  for (const i of figures.intake) {
    byDisposition[i.disposition] = (byDisposition[i.disposition] ?? 0) + i.alerts;
    intake += i.alerts;
  }
  const sorted = [...routes.values()].sort((a, b) => byRouteName(a.route, b.route));
  for (const r of sorted) r.channels.sort((a, b) => (a.channel < b.channel ? -1 : 1));
  return {
    from: new Date(window.fromMs).toISOString(),
    to: new Date(window.toMs).toISOString(),
    window_ms: window.toMs - window.fromMs,
    routes: sorted,
    channels: [...channels.values()].sort((a, b) => (a.channel < b.channel ? -1 : 1)),
    totals,
    intake: { alerts: intake, by_disposition: byDisposition },
  };
}
