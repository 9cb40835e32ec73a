/**
 * The grouping core (Alertmanager's dispatcher, as a pure reducer):
 * `ingest(state, items, now)` and `tick(state, now)` return the next state
 * and the digests that are due. No I/O, no clock: `now` is passed in.
 *
 * Per group (route + the values of its `groupBy` labels):
 * - the first digest goes out `groupWaitMs` after the group was created;
 * - later digests go out when the group changed (new alert or resolution),
 *   at least `groupIntervalMs` after the previous digest;
 * - an unchanged group with firing alerts is re-sent after `repeatIntervalMs`;
 * - resolved alerts are reported in the next digest, then forgotten;
 * - with `criticalImmediate`, a new CRITICAL alert goes out at once in its own
 *   digest (and does not make its group send again), unless it is inhibited;
 * - a rule/entity that fires more than `flapThreshold` times within
 *   `flapWindowMs` is flapping: never immediate, flagged in digests.
 *
 * Left out of digests: silenced alerts (they never enter a group, and are
 * dropped from it when a silence starts later); alerts of a route with no
 * channel (recorded only); inhibited alerts (inhibit.ts: held while their
 * source fires, announced as new if they outlive it); acknowledged firing
 * alerts (quiet: no "still firing" repeats; their resolution is still
 * reported if they had been announced). The state is plain JSON.
 *
 * @module
 */
import { fnv1aHex } from "@vigil/shared/hash";
import type { Alert } from "@vigil/shared/schemas/alert";
import { findSilence, type Silence } from "@vigil/shared/silences";
import { compareDigestAlerts, type Digest, type FlappingEntity } from "./digest.ts";
import {
  type BatcherState,
  Draft,
  firingAlerts,
  flapKey,
  flappingEntity,
  forgetAt,
  type GroupAlert,
  groupDigestId,
  groupHolding,
  groupKeyFor,
  type GroupState,
  heldKeys,
  holdResolution,
  recordFiring,
  releaseInhibited,
  routeByName,
  toDigestAlert,
} from "./groups.ts";
import {
  createInhibitor,
  DEFAULT_INHIBIT_RULES,
  inhibitable,
  type InhibitRule,
} from "./inhibit.ts";
import { type Route, routeFor } from "./routes.ts";

export { type BatcherState, emptyState, type GroupAlert, type GroupState } from "./groups.ts";

/** Options of the batcher. */
export interface BatcherOptions {
  /** Routes in order; the last is the default. */
  routes: readonly Route[];
  /** More firing transitions than this within the window = flapping; 0 disables. @default {4} */
  flapThreshold?: number;
  /** @default {3600000} */
  flapWindowMs?: number;
  /** A firing alert never resolved is dropped after this long. @default {86400000} */
  staleAfterMs?: number;
  /** Silences in effect (matched at ingest and at every flush). @default {[]} */
  silences?: readonly Silence[];
  /** Inhibition rules. @default {DEFAULT_INHIBIT_RULES} */
  inhibitRules?: readonly InhibitRule[];
  /** Ids of acknowledged alerts (quiet). @default {none} */
  acknowledged?: ReadonlySet<string>;
}

/** An alert read from the stream. */
export interface IngestItem {
  streamId: string;
  alert: Alert;
}

/** What happened to a stream entry that needs no digest. */
export interface Settled {
  streamId: string;
  alertId: string;
  disposition: "silenced" | "duplicate" | "recorded" | "inhibited";
  silenceId?: string;
  /** `recorded`: the route without a channel. */
  route?: string;
  /** `inhibited`: the source alert's id. */
  inhibitedBy?: string;
}

/** Result of {@link ingest} and {@link tick}. */
export interface BatchResult {
  state: BatcherState;
  /** Digests to store and send now. */
  digests: Digest[];
  /** Stream entries that need no digest (acknowledge now). */
  settled: Settled[];
  /** Group keys whose state changed (persist) — removed groups included. */
  changed: string[];
  /** Where each ingested entry went: group key (or undefined when settled). */
  placed: Record<string, string>;
}

/**
 * Fold alerts read from the stream into their groups. Returns immediate
 * digests (CRITICAL with `criticalImmediate`), entries settled without a
 * digest (silenced, duplicates, recorded only) and the changed groups.
 */
export function ingest(
  state: BatcherState,
  items: readonly IngestItem[],
  now: number,
  options: BatcherOptions,
): BatchResult {
  const d = new Draft(state);
  const digests: Digest[] = [];
  const settled: Settled[] = [];
  const placed: Record<string, string> = {};
  const threshold = options.flapThreshold ?? 4;
  const window = options.flapWindowMs ?? 3_600_000;
  const silences = options.silences ?? [];
  const rules = options.inhibitRules ?? DEFAULT_INHIBIT_RULES;
  let heldAt: Map<string, string> | undefined; // alert id → group key, built on the first need

  for (const { streamId, alert } of items) {
    const silence = findSilence(silences, alert, now);
    if (silence) {
      settled.push({ streamId, alertId: alert.id, disposition: "silenced", silenceId: silence.id });
      // A resolution muted by a silence still ends the firing copy a group holds: else that copy
      // came back as "still firing" in every repeat once the silence ended, until STALE_AFTER.
      if (alert.status === "resolved") {
        holdResolution(d, routeFor(options.routes, alert), alert, () => heldAt ??= heldKeys(d));
      }
      continue;
    }
    const route = routeFor(options.routes, alert);
    if (route.channels.length === 0) {
      settled.push({ streamId, alertId: alert.id, disposition: "recorded", route: route.name });
      continue;
    }
    let { key, labels } = groupKeyFor(route, alert);
    if (alert.status === "resolved") {
      // Resolved where it is held (grouped under other routes or labels, changed across a
      // restart), or its firing copy stays "still firing" there until STALE_AFTER.
      const holding = groupHolding(d, key, alert.id, () => heldAt ??= heldKeys(d));
      if (holding !== undefined) [key, labels] = [holding, d.groups[holding]!.labels];
    }
    const existing = d.groups[key]?.alerts[alert.id];

    if (alert.status === "firing") {
      if (existing && existing.alert.status === "firing") {
        // The detector re-published a known alert: nothing new to tell.
        settled.push({ streamId, alertId: alert.id, disposition: "duplicate" });
        continue;
      }
      const fk = flapKey(alert);
      const flapping = threshold > 0 && recordFiring(d.flaps, alert, now, window) > threshold;
      // An inhibited CRITICAL waits for its group's turn, which leaves it out (as a digest does).
      const immediate = route.criticalImmediate && alert.severity === "CRITICAL" && !flapping &&
        !(inhibitable(alert, rules) && createInhibitor(firingAlerts(d.groups), rules)(alert));
      const g = d.writeOrCreate(key, route.name, labels, now);
      if (flapping) {
        for (const other of Object.values(g.alerts)) {
          if (flapKey(other.alert) === fk) other.flapping = true;
        }
      }
      g.alerts[alert.id] = {
        alert,
        streamIds: [...(existing?.streamIds ?? []), ...(immediate ? [] : [streamId])],
        notified: immediate,
        flapping,
        firstSeenAt: now,
      };
      placed[streamId] = key;
      if (immediate) {
        // Only a base for a group that sent nothing yet: its other alerts' repeat stays due.
        g.lastSentAt ??= now;
        digests.push({
          id: `i-${fnv1aHex(key)}-${streamId}`,
          kind: "immediate",
          route: route.name,
          groupKey: key,
          groupLabels: labels,
          createdAt: now,
          channels: [...route.channels],
          alerts: [{ ...alert, isNew: true, flapping: false, resolvedAfterMs: null }],
          flapping: [],
          streamIds: [streamId],
        });
      } else {
        g.dirty = true;
      }
      continue;
    }

    // resolved
    if (existing && existing.alert.status === "resolved") {
      settled.push({ streamId, alertId: alert.id, disposition: "duplicate" });
      continue;
    }
    const g = d.writeOrCreate(key, route.name, labels, now);
    g.alerts[alert.id] = {
      alert,
      streamIds: [...(existing?.streamIds ?? []), streamId],
      notified: existing?.notified ?? false,
      flapping: existing?.flapping ?? false,
      firstSeenAt: existing?.firstSeenAt ?? now,
      inhibitedBy: existing?.inhibitedBy ?? null,
    };
    g.dirty = true;
    placed[streamId] = key;
  }
  releaseInhibited(d);
  return { state: d.state(), digests, settled, changed: [...d.changed], placed };
}

/** When a changed group's digest is due (its first after group_wait, later ones group_interval apart). */
function turnAt(group: GroupState, route: Route): number | null {
  if (!group.dirty) return null;
  return group.lastFlushAt === null
    ? group.createdAt + route.groupWaitMs
    : group.lastFlushAt + route.groupIntervalMs;
}

/** When `group` next needs attention (ms), or null when never. */
export function groupDueAt(group: GroupState, route: Route, staleAfterMs: number): number | null {
  let due: number | null = null;
  const consider = (t: number) => {
    if (due === null || t < due) due = t;
  };
  const turn = turnAt(group, route);
  if (turn !== null) consider(turn);
  const firing = Object.values(group.alerts).filter((a) => a.alert.status === "firing");
  // A changed group waits for its turn (repeat_interval < group_interval sent changes sooner).
  if (firing.length && group.lastSentAt !== null && !group.dirty) {
    consider(group.lastSentAt + route.repeatIntervalMs);
  }
  // A stale alert not told yet waits for the group's turn (tick keeps it for its digest): its
  // stale time alone would leave the group due, with nothing to do, until then.
  for (const a of firing) {
    const stale = a.firstSeenAt + staleAfterMs;
    consider(turn !== null && !a.notified ? Math.max(stale, turn) : stale);
  }
  // An emptied group is kept one group interval after its last digest (see forgetAt).
  const forget = forgetAt(group, route);
  if (forget !== null && Object.keys(group.alerts).length === 0) consider(forget);
  return due;
}

/** The earliest time any group needs attention, or null. */
export function nextDueAt(state: BatcherState, options: BatcherOptions): number | null {
  let due: number | null = null;
  const stale = options.staleAfterMs ?? 86_400_000;
  for (const g of Object.values(state.groups)) {
    const t = groupDueAt(g, routeByName(options.routes, g.route), stale);
    if (t !== null && (due === null || t < due)) due = t;
  }
  return due;
}

/** Whether a held alert is shown in the group's digest (else inhibited or quiet). */
function shown(a: GroupAlert, acknowledged: ReadonlySet<string>): boolean {
  if (!a.inhibitedBy && !acknowledged.has(a.alert.id)) return true;
  return a.alert.status === "resolved" && a.notified; // an announced one's resolution
}

/**
 * Advance the clock to `now`: emit every digest that is due, drop resolved
 * and stale alerts, drop alerts a silence now covers, and hold back
 * inhibited and acknowledged ones.
 */
export function tick(state: BatcherState, now: number, options: BatcherOptions): BatchResult {
  const d = new Draft(state);
  const digests: Digest[] = [];
  const settled: Settled[] = [];
  const silences = options.silences ?? [];
  const staleAfterMs = options.staleAfterMs ?? 86_400_000;
  const window = options.flapWindowMs ?? 3_600_000;
  const threshold = options.flapThreshold ?? 4;
  const rules = options.inhibitRules ?? DEFAULT_INHIBIT_RULES;
  const acknowledged = options.acknowledged ?? new Set<string>();
  const inhibitor = createInhibitor(rules.length ? firingAlerts(state.groups) : [], rules);

  for (const [fk, times] of Object.entries(state.flaps)) {
    const kept = times.filter((t) => t > now - window);
    if (kept.length === 0) delete d.flaps[fk];
    else if (kept.length !== times.length) d.flaps[fk] = kept;
  }

  for (const key of Object.keys(state.groups).sort()) {
    const route = routeByName(options.routes, state.groups[key]!.route);
    const due = groupDueAt(state.groups[key]!, route, staleAfterMs);
    if (due === null || due > now) continue;
    const g = d.write(key)!;

    // Silences that started after the alert arrived, stale alerts, inhibition.
    for (const [id, a] of Object.entries(g.alerts)) {
      const silence = findSilence(silences, a.alert, now);
      if (silence) {
        for (const streamId of a.streamIds) {
          settled.push({ streamId, alertId: id, disposition: "silenced", silenceId: silence.id });
        }
        delete g.alerts[id];
        continue;
      }
      // (A shown alert not told yet waits for its digest, due much sooner.)
      if (
        a.alert.status === "firing" && now - a.firstSeenAt >= staleAfterMs &&
        !(shown(a, acknowledged) && !a.notified)
      ) {
        delete g.alerts[id];
        continue;
      }
      // A resolution never announced (it fired and resolved before a digest) is inhibited too.
      const by = a.alert.status === "firing" || !a.notified ? inhibitor(a.alert) : null;
      if (by) a.inhibitedBy = by;
      if (a.inhibitedBy) {
        for (const streamId of a.streamIds) {
          settled.push({
            streamId,
            alertId: id,
            disposition: "inhibited",
            inhibitedBy: a.inhibitedBy,
          });
        }
        a.streamIds = [];
      }
    }

    const entries = Object.values(g.alerts);
    const listed = entries.filter((a) => shown(a, acknowledged));
    const firing = entries.filter((a) => a.alert.status === "firing");
    const turn = turnAt(g, route);
    let kind: Digest["kind"] | null = turn !== null && turn <= now ? "digest" : null;
    if (
      kind === null && !g.dirty && firing.length && g.lastSentAt !== null &&
      g.lastSentAt + route.repeatIntervalMs <= now
    ) {
      kind = "repeat";
      // Nothing loud left to repeat: re-arm the timer without a digest.
      if (!listed.some((a) => a.alert.status === "firing")) {
        g.lastSentAt = now;
        kind = null;
      }
    }

    // A change digest needs news (an alert not told yet, or a resolution):
    // a group that changed only by inhibited or quiet alerts sends nothing.
    const news = listed.some((a) => a.alert.status === "resolved" || !a.notified);
    if (kind !== null && listed.length && (kind !== "digest" || news)) {
      const alerts = listed.map(toDigestAlert).sort(compareDigestAlerts);
      const flapping = new Map<string, FlappingEntity>();
      for (const a of alerts) {
        if (a.flapping) flapping.set(flapKey(a), flappingEntity(a, d.flaps, window));
      }
      digests.push({
        id: groupDigestId(key, g.createdAt, g.seq),
        kind,
        route: route.name,
        groupKey: key,
        groupLabels: { ...g.labels },
        createdAt: now,
        channels: [...route.channels],
        alerts,
        flapping: [...flapping.values()],
        streamIds: entries.flatMap((a) => a.streamIds),
      });
      g.seq++;
      g.lastFlushAt = now;
      g.lastSentAt = now;
      for (const a of listed) a.notified = true;
    }
    if (kind === "digest" || (kind !== null && listed.length > 0)) { // flushed
      g.dirty = false;
      for (const [id, a] of Object.entries(g.alerts)) {
        if (a.alert.status === "resolved") {
          delete g.alerts[id];
          continue;
        }
        a.streamIds = [];
        // A flapping flag clears once the entity calmed down.
        if (a.flapping && (d.flaps[flapKey(a.alert)] ?? []).length <= threshold) {
          a.flapping = false;
        }
      }
    }
    if (Object.keys(g.alerts).length === 0 && !((forgetAt(g, route) ?? -Infinity) > now)) {
      d.remove(key);
    }
  }
  releaseInhibited(d);
  return { state: d.state(), digests, settled, changed: [...d.changed], placed: {} };
}
