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
 *   digest (and does not make its group send again);
 * - a rule/entity that fires more than `flapThreshold` times within
 *   `flapWindowMs` is flapping: never immediate, flagged in digests.
 *
 * Silenced alerts never enter a group (and are dropped from it when a
 * silence starts later). The state is plain JSON so it can be persisted.
 *
 * @module
 */
import { fnv1aHex } from "@vigil/shared/hash";
import type { Alert } from "@vigil/shared/schemas/alert";
import { findSilence, type Silence } from "@vigil/shared/silences";
import {
  compareDigestAlerts,
  type Digest,
  type DigestAlert,
  type FlappingEntity,
} from "./digest.ts";
import { type Route, routeFor } from "./routes.ts";

/** One alert held by a group. */
export interface GroupAlert {
  alert: Alert;
  /** Stream entries folded in since the last digest (to acknowledge after it). */
  streamIds: string[];
  /** Already told (in a digest or immediately). */
  notified: boolean;
  flapping: boolean;
  /** When the notifier first saw it (ms). */
  firstSeenAt: number;
  /** For resolved alerts: when it started firing, if known. */
  firingSince: string | null;
}

/** One aggregation group. */
export interface GroupState {
  key: string;
  route: string;
  labels: Record<string, string>;
  createdAt: number;
  /** Time of the last group digest, null before the first. */
  lastFlushAt: number | null;
  /** Time anything about this group was last sent (repeat base). */
  lastSentAt: number | null;
  /** Changed since the last digest. */
  dirty: boolean;
  seq: number;
  alerts: Record<string, GroupAlert>;
}

/** The whole batcher state (JSON-serialisable). */
export interface BatcherState {
  groups: Record<string, GroupState>;
  /** `type|rule|entity` → firing times (ms) within the flap window. */
  flaps: Record<string, number[]>;
}

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
  disposition: "silenced" | "duplicate";
  silenceId?: string;
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

/** An empty state. */
export function emptyState(): BatcherState {
  return { groups: {}, flaps: {} };
}

function groupKeyFor(route: Route, alert: Alert): { key: string; labels: Record<string, string> } {
  const labels: Record<string, string> = {};
  for (const l of route.groupBy) labels[l] = String(alert[l]);
  const key = `${route.name}|${route.groupBy.map((l) => `${l}=${labels[l]}`).join(",")}`;
  return { key, labels };
}

function flapKey(alert: Pick<Alert, "type" | "rule" | "entity">): string {
  return `${alert.type}|${alert.rule}|${alert.entity}`;
}

function toDigestAlert(g: GroupAlert): DigestAlert {
  let resolvedAfterMs: number | null = null;
  if (g.alert.status === "resolved") {
    const end = Date.parse(g.alert.resolved_at ?? g.alert.detected_at);
    const start = Date.parse(g.firingSince ?? "");
    if (!Number.isNaN(end) && !Number.isNaN(start) && end >= start) resolvedAfterMs = end - start;
  }
  return {
    ...g.alert,
    isNew: g.alert.status === "firing" && !g.notified,
    flapping: g.flapping,
    resolvedAfterMs,
  };
}

/** A mutable working copy that clones a group on first write. */
class Draft {
  readonly groups: Record<string, GroupState>;
  readonly flaps: Record<string, number[]>;
  readonly changed = new Set<string>();
  readonly #cloned = new Set<string>();
  constructor(state: BatcherState) {
    this.groups = { ...state.groups };
    this.flaps = { ...state.flaps };
  }
  /** A writable group (cloned once). */
  write(key: string): GroupState | undefined {
    const g = this.groups[key];
    if (!g) return undefined;
    this.changed.add(key);
    if (!this.#cloned.has(key)) {
      const copy: GroupState = { ...g, labels: { ...g.labels }, alerts: {} };
      for (const [id, a] of Object.entries(g.alerts)) {
        copy.alerts[id] = { ...a, streamIds: [...a.streamIds] };
      }
      this.groups[key] = copy;
      this.#cloned.add(key);
      return copy;
    }
    return g;
  }
  create(group: GroupState): GroupState {
    this.groups[group.key] = group;
    this.#cloned.add(group.key);
    this.changed.add(group.key);
    return group;
  }
  remove(key: string): void {
    delete this.groups[key];
    this.changed.add(key);
  }
  state(): BatcherState {
    return { groups: this.groups, flaps: this.flaps };
  }
}

function routeByName(routes: readonly Route[], name: string): Route {
  return routes.find((r) => r.name === name) ?? routes[routes.length - 1]!;
}

/**
 * Fold alerts read from the stream into their groups. Returns immediate
 * digests (CRITICAL with `criticalImmediate`), entries settled without a
 * digest (silenced, duplicates) and the changed groups.
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

  for (const { streamId, alert } of items) {
    const silence = findSilence(silences, alert, now);
    if (silence) {
      settled.push({ streamId, alertId: alert.id, disposition: "silenced", silenceId: silence.id });
      continue;
    }
    const route = routeFor(options.routes, alert);
    const { key, labels } = groupKeyFor(route, alert);
    const existing = d.groups[key]?.alerts[alert.id];

    if (alert.status === "firing") {
      if (existing && existing.alert.status === "firing") {
        // The detector re-published a known alert: nothing new to tell.
        settled.push({ streamId, alertId: alert.id, disposition: "duplicate" });
        continue;
      }
      const fk = flapKey(alert);
      const times = (d.flaps[fk] ?? []).filter((t) => t > now - window);
      times.push(now);
      d.flaps[fk] = times;
      const flapping = threshold > 0 && times.length > threshold;
      const immediate = route.criticalImmediate && alert.severity === "CRITICAL" && !flapping;
      const g = d.write(key) ?? d.create({
        key,
        route: route.name,
        labels,
        createdAt: now,
        lastFlushAt: null,
        lastSentAt: null,
        dirty: false,
        seq: 0,
        alerts: {},
      });
      if (flapping) {
        for (const other of Object.values(g.alerts)) {
          if (flapKey(other.alert) === fk) other.flapping = true;
        }
      }
      g.alerts[alert.id] = {
        alert,
        streamIds: immediate ? [] : [streamId],
        notified: immediate,
        flapping,
        firstSeenAt: now,
        firingSince: alert.detected_at,
      };
      placed[streamId] = key;
      if (immediate) {
        g.lastSentAt = now;
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
    const g = d.write(key) ?? d.create({
      key,
      route: route.name,
      labels,
      createdAt: now,
      lastFlushAt: null,
      lastSentAt: null,
      dirty: false,
      seq: 0,
      alerts: {},
    });
    g.alerts[alert.id] = {
      alert,
      streamIds: [...(existing?.streamIds ?? []), streamId],
      notified: existing?.notified ?? false,
      flapping: existing?.flapping ?? false,
      firstSeenAt: existing?.firstSeenAt ?? now,
      firingSince: existing?.firingSince ?? alert.detected_at,
    };
    g.dirty = true;
    placed[streamId] = key;
  }
  return { state: d.state(), digests, settled, changed: [...d.changed], placed };
}

/** When `group` next needs attention (ms), or null when never. */
export function groupDueAt(group: GroupState, route: Route, staleAfterMs: number): number | null {
  let due: number | null = null;
  const consider = (t: number) => {
    if (due === null || t < due) due = t;
  };
  if (group.dirty) {
    consider(
      group.lastFlushAt === null
        ? group.createdAt + route.groupWaitMs
        : group.lastFlushAt + route.groupIntervalMs,
    );
  }
  const firing = Object.values(group.alerts).filter((a) => a.alert.status === "firing");
  if (firing.length && group.lastSentAt !== null) {
    consider(group.lastSentAt + route.repeatIntervalMs);
  }
  for (const a of firing) consider(a.firstSeenAt + staleAfterMs);
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

/**
 * Advance the clock to `now`: emit every digest that is due, drop resolved
 * and stale alerts, and drop alerts a silence now covers.
 */
export function tick(state: BatcherState, now: number, options: BatcherOptions): BatchResult {
  const d = new Draft(state);
  const digests: Digest[] = [];
  const settled: Settled[] = [];
  const silences = options.silences ?? [];
  const staleAfterMs = options.staleAfterMs ?? 86_400_000;
  const window = options.flapWindowMs ?? 3_600_000;
  const threshold = options.flapThreshold ?? 4;

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

    // Silences that started after the alert arrived, and stale alerts.
    for (const [id, a] of Object.entries(g.alerts)) {
      const silence = findSilence(silences, a.alert, now);
      if (silence) {
        for (const streamId of a.streamIds) {
          settled.push({ streamId, alertId: id, disposition: "silenced", silenceId: silence.id });
        }
        delete g.alerts[id];
      } else if (
        a.alert.status === "firing" && a.notified && now - a.firstSeenAt >= staleAfterMs
      ) {
        delete g.alerts[id];
      }
    }

    const entries = Object.values(g.alerts);
    const firing = entries.filter((a) => a.alert.status === "firing");
    let kind: Digest["kind"] | null = null;
    if (g.dirty) {
      const at = g.lastFlushAt === null
        ? g.createdAt + route.groupWaitMs
        : g.lastFlushAt + route.groupIntervalMs;
      if (at <= now) kind = "digest";
    }
    if (
      kind === null && firing.length && g.lastSentAt !== null &&
      g.lastSentAt + route.repeatIntervalMs <= now
    ) kind = "repeat";

    if (kind !== null && entries.length) {
      const alerts = entries.map(toDigestAlert).sort(compareDigestAlerts);
      const flapping = new Map<string, FlappingEntity>();
      for (const a of alerts) {
        if (!a.flapping) continue;
        const fk = flapKey(a);
        const changes = (d.flaps[fk] ?? []).length;
        flapping.set(fk, { type: a.type, rule: a.rule, entity: a.entity, changes });
      }
      digests.push({
        id: `g-${fnv1aHex(key)}-${g.createdAt.toString(36)}-${g.seq}`,
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
      for (const [id, a] of Object.entries(g.alerts)) {
        if (a.alert.status === "resolved") {
          delete g.alerts[id];
          continue;
        }
        a.notified = true;
        a.streamIds = [];
        // A flapping flag clears once the entity calmed down.
        if (a.flapping && (d.flaps[flapKey(a.alert)] ?? []).length <= threshold) {
          a.flapping = false;
        }
      }
    }
    g.dirty = false;
    if (Object.keys(g.alerts).length === 0) d.remove(key);
  }
  return { state: d.state(), digests, settled, changed: [...d.changed], placed: {} };
}
