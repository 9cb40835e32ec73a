/**
 * The batcher's state (JSON, persisted per group in `notifier_groups`), the
 * copy-on-write draft the reducers change, and the reducers' helpers over
 * groups (inhibition release, where an alert is held, digest ids). Pure.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Alert } from "@vigil/shared/schemas/alert";
import type { DigestAlert, FlappingEntity } from "./digest.ts";
import type { Route } from "./routes.ts";

/** Alert fields a group can be keyed by (`service` is accepted as an alias of `entity`). */
export const GROUP_LABELS = ["type", "severity", "rule", "entity"] as const;
export type GroupLabel = (typeof GROUP_LABELS)[number];

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
  /** Id of the firing alert that inhibits it (left out of digests meanwhile). */
  inhibitedBy?: string | null;
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

/** An empty state. */
export function emptyState(): BatcherState {
  return { groups: {}, flaps: {} };
}

/** The group key and labels of `alert` on `route`. */
export function groupKeyFor(
  route: Route,
  alert: Alert,
): { key: string; labels: Record<string, string> } {
  const labels: Record<string, string> = {};
  for (const l of route.groupBy) labels[l] = String(alert[l]);
  const key = `${route.name}|${route.groupBy.map((l) => `${l}=${keyValue(labels[l]!)}`).join(",")}`;
  return { key, labels };
}

/**
 * A label value in a group key, its separators escaped: an entity is untrusted text, and
 * `entity=a,rule=b` + `rule=c` was the key of `entity=a` + `rule=b,rule=c` too (one group).
 * Values without `%`, `,`, `=` or `|` (every ordinary one) keep the key they had.
 */
function keyValue(value: string): string {
  return value.replace(/[%,=|]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** `type|rule|entity`: what flapping is counted per. */
export function flapKey(alert: Pick<Alert, "type" | "rule" | "entity">): string {
  return `${alert.type}|${alert.rule}|${alert.entity}`;
}

/**
 * Record a firing of `alert`'s rule/entity in `flaps`; returns how many fired within `windowMs`
 * of it. A firing counts at its detection time (never ahead of `now`), not when the notifier
 * takes it in: after an outage, firings hours apart arrive together and are not flapping.
 */
export function recordFiring(
  flaps: Record<string, number[]>,
  alert: Pick<Alert, "type" | "rule" | "entity" | "detected_at">,
  now: number,
  windowMs: number,
): number {
  const fk = flapKey(alert);
  const detected = Date.parse(alert.detected_at);
  const at = Number.isNaN(detected) ? now : Math.min(detected, now);
  const times = (flaps[fk] ?? []).filter((t) => t > at - windowMs);
  times.push(at);
  flaps[fk] = times;
  return times.filter((t) => t <= at).length;
}

/** A digest's entry for a flapping rule/entity: its firings within the flap window `windowMs`. */
export function flappingEntity(
  alert: Pick<Alert, "type" | "rule" | "entity">,
  flaps: Readonly<Record<string, number[]>>,
  windowMs: number,
): FlappingEntity {
  const { type, rule, entity } = alert;
  return { type, rule, entity, changes: flaps[flapKey(alert)]?.length ?? 0, windowMs };
}

/** A held alert as a digest shows it. */
export function toDigestAlert(g: GroupAlert): DigestAlert {
  let resolvedAfterMs: number | null = null;
  if (g.alert.status === "resolved") {
    // Both in event time (the anomaly's, and the one that cleared it).
    const end = Date.parse(g.alert.resolved_at ?? "");
    const start = Date.parse(g.alert.event_time);
    if (!Number.isNaN(end) && !Number.isNaN(start) && end >= start) resolvedAfterMs = end - start;
  }
  return {
    ...g.alert,
    isNew: g.alert.status === "firing" && !g.notified,
    firstTold: !g.notified,
    flapping: g.flapping,
    resolvedAfterMs,
  };
}

/** The route named `name`, else the default (last). */
export function routeByName(routes: readonly Route[], name: string): Route {
  return routes.find((r) => r.name === name) ?? routes[routes.length - 1]!;
}

/** A mutable working copy that clones a group on first write. */
export class Draft {
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
    if (this.#cloned.has(key)) return g;
    const copy: GroupState = { ...g, labels: { ...g.labels }, alerts: {} };
    for (const [id, a] of Object.entries(g.alerts)) {
      copy.alerts[id] = { ...a, streamIds: [...a.streamIds] };
    }
    this.groups[key] = copy;
    this.#cloned.add(key);
    return copy;
  }
  /** The writable group `key`, created empty when missing. */
  writeOrCreate(key: string, route: string, labels: Record<string, string>, now: number) {
    const existing = this.write(key);
    if (existing) return existing;
    const group: GroupState = {
      key,
      route,
      labels,
      createdAt: now,
      lastFlushAt: null,
      lastSentAt: null,
      dirty: false,
      seq: 0,
      alerts: {},
    };
    this.groups[key] = group;
    this.#cloned.add(key);
    this.changed.add(key);
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

/** Firing alerts held in any group (the possible inhibition sources). */
export function firingAlerts(groups: Record<string, GroupState>): Alert[] {
  const out: Alert[] = [];
  for (const g of Object.values(groups)) {
    for (const a of Object.values(g.alerts)) if (a.alert.status === "firing") out.push(a.alert);
  }
  return out;
}

/** Alerts whose inhibiting source stopped firing are released: their group sends again. */
export function releaseInhibited(d: Draft): void {
  const firing = new Set(firingAlerts(d.groups).map((a) => a.id));
  // One that resolved while inhibited, never announced, is not released: it is dropped at its
  // group's turn (released, it was told as "resolved" though its firing never was).
  const released = (a: GroupAlert) =>
    !!a.inhibitedBy && !firing.has(a.inhibitedBy) &&
    !(a.alert.status === "resolved" && !a.notified);
  for (const [key, g] of Object.entries(d.groups)) {
    if (!Object.values(g.alerts).some(released)) continue;
    const w = d.write(key)!;
    for (const a of Object.values(w.alerts)) {
      if (released(a)) {
        a.inhibitedBy = null;
        w.dirty = true;
      }
    }
  }
}

/** Which group holds each alert (by id). */
export function heldKeys(d: Draft): Map<string, string> {
  const at = new Map<string, string>();
  for (const [key, g] of Object.entries(d.groups)) for (const id in g.alerts) at.set(id, key);
  return at;
}

/**
 * A resolution that arrived silenced: the group's firing copy of the alert
 * becomes resolved (it then leaves the group at its next turn, silently
 * while the silence lasts, as a resolution once it ended).
 */
export function holdResolution(
  d: Draft,
  route: Route,
  alert: Alert,
  heldAt: () => Map<string, string>,
): void {
  const own = route.channels.length ? groupKeyFor(route, alert).key : undefined;
  const key = groupHolding(d, own, alert.id, heldAt);
  const held = key === undefined ? undefined : d.groups[key]!.alerts[alert.id]!;
  if (!held || held.alert.status !== "firing") return;
  const g = d.write(key!)!;
  g.alerts[alert.id] = { ...held, alert };
  g.dirty = true;
}

/**
 * The key of the group holding alert `alertId`: `own` (its route's group now)
 * when it is there, else wherever it is held (grouped under other routes or
 * labels, changed across a restart), else undefined.
 */
export function groupHolding(
  d: Draft,
  own: string | undefined,
  alertId: string,
  heldAt: () => Map<string, string>,
): string | undefined {
  if (own !== undefined && d.groups[own]?.alerts[alertId]) return own;
  const key = heldAt().get(alertId);
  return key !== undefined && d.groups[key]?.alerts[alertId] ? key : undefined;
}

/**
 * A group's digest id: its key's SHA-256 (96 bits: two groups created in one
 * intake must not share an id, which a 32-bit hash of the key let happen, and
 * the store keeps only the first digest of an id), creation time, sequence.
 */
export function groupDigestId(key: string, createdAt: number, seq: number): string {
  const hash = createHash("sha256").update(key).digest("hex").slice(0, 24);
  return `g-${hash}-${createdAt.toString(36)}-${seq}`;
}

/**
 * When an emptied group may be forgotten: one group interval after its last
 * digest. Forgotten at once, the next alert of its key made a new group that
 * sent after GROUP_WAIT (30 s) instead of GROUP_INTERVAL (5 min): an alert
 * every 40 s, each resolving at once, made 90 digests an hour where the
 * interval promises at most 12. Null: never sent, forgotten at once.
 */
export function forgetAt(group: GroupState, route: Route): number | null {
  return group.lastFlushAt === null ? null : group.lastFlushAt + route.groupIntervalMs;
}

/**
 * The state with no time after `now`. After the clock was set back (NTP
 * stepping it, a VM restored, a standby on a host whose clock is behind), a
 * group's last digest "in the future" held its next one until the clock
 * caught up: an hour back, a new alert was told an hour late. The same
 * object when nothing is ahead of `now`.
 */
export function notAfter(state: BatcherState, now: number): BatcherState {
  const at = (t: number) => Math.min(t, now);
  let groups = state.groups;
  for (const [key, g] of Object.entries(state.groups)) {
    const alerts = Object.values(g.alerts);
    if (
      g.createdAt <= now && (g.lastFlushAt ?? now) <= now && (g.lastSentAt ?? now) <= now &&
      alerts.every((a) => a.firstSeenAt <= now)
    ) continue;
    if (groups === state.groups) groups = { ...groups };
    groups[key] = {
      ...g,
      createdAt: at(g.createdAt),
      lastFlushAt: g.lastFlushAt === null ? null : at(g.lastFlushAt),
      lastSentAt: g.lastSentAt === null ? null : at(g.lastSentAt),
      alerts: Object.fromEntries(
        Object.entries(g.alerts).map(([id, a]) => [id, { ...a, firstSeenAt: at(a.firstSeenAt) }]),
      ),
    };
  }
  let flaps = state.flaps;
  for (const [k, times] of Object.entries(state.flaps)) {
    if (times.every((t) => t <= now)) continue;
    if (flaps === state.flaps) flaps = { ...flaps };
    flaps[k] = times.map(at);
  }
  return groups === state.groups && flaps === state.flaps ? state : { groups, flaps };
}
