/**
 * Routes: which alerts go to which channels, grouped how, on which timers.
 * The first route whose matchers all equal the alert's fields wins; the
 * default route (built from the environment) catches the rest.
 *
 * Routes file (`NOTIFIER_ROUTES_FILE`, JSON):
 *
 * ```json
 * { "routes": [
 *   { "name": "payments", "match": { "type": "transactions" }, "channels": ["email", "discord"],
 *     "group_by": ["rule"], "group_wait": "10s", "critical_immediate": true },
 *   { "name": "warnings-log-only", "match": { "severity": "WARNING" }, "channels": [] }
 * ] }
 * ```
 *
 * A route with no channel records its alerts (disposition `recorded` in
 * `notifier_alerts`, a log line) without notifying.
 *
 * @module
 */
import { matchersMatch } from "@vigil/shared/silences";
import { z } from "zod";
import { durationVar, formatDuration } from "@vigil/shared/config";
import { formatZodError } from "@vigil/shared/schemas/event";
import { duplicateKeyProblem } from "@vigil/shared/schemas/duplicate_keys";
import { alertMatchersSchema } from "@vigil/shared/schemas/silence";
import type { Alert } from "@vigil/shared/schemas/alert";

import { GROUP_LABELS, type GroupLabel } from "./groups.ts";
import { DEFAULT_INHIBIT_RULES, type InhibitRule, inhibitRuleSchema } from "./inhibit.ts";

/** Channel names. */
export const CHANNEL_NAMES = ["email", "discord", "slack", "webhook"] as const;
export type ChannelName = (typeof CHANNEL_NAMES)[number];

/**
 * A group interval or repeat interval: at least a second (0 would send a
 * digest, or a "still firing" repeat, on every tick of the batcher).
 */
export const digestIntervalVar = durationVar.pipe(
  z.number().min(1000, "must be at least 1s (0 would send a digest on every tick)"),
);

/**
 * The least `STALE_AFTER` that lets a route's firing alert be repeated once:
 * it is first sent within the longer of group_wait and group_interval of its
 * arrival, repeated a repeat interval later, and leaves its group (never
 * repeated) at `STALE_AFTER` after its arrival. `STALE_AFTER` must exceed it.
 */
export function leastStaleAfter(
  r: Pick<Route, "groupWaitMs" | "groupIntervalMs" | "repeatIntervalMs">,
): number {
  return r.repeatIntervalMs + Math.max(r.groupWaitMs, r.groupIntervalMs);
}

/** `type,severity` or `["type","severity"]` → labels (`service` = `entity`). */
export const groupByVar = z.union([z.string(), z.array(z.string())]).transform((v, ctx) => {
  const list = (typeof v === "string" ? v.split(",") : v).map((s) => s.trim().toLowerCase())
    .filter(Boolean).map((s) => s === "service" ? "entity" : s);
  const bad = list.find((s) => !(GROUP_LABELS as readonly string[]).includes(s));
  if (bad !== undefined) {
    ctx.addIssue({
      code: "custom",
      message: `has unknown label "${bad}" (use ${GROUP_LABELS.join(", ")}, service)`,
    });
    return z.NEVER;
  }
  return [...new Set(list)] as GroupLabel[];
});

/** One route of the routes file. */
export const routeFileEntrySchema = z.strictObject({
  name: z.string().regex(/^[\w.-]{1,64}$/, "must be 1-64 of [A-Za-z0-9_.-]"),
  /** All given fields must equal the alert's; empty or absent matches everything. */
  match: alertMatchersSchema.default({}),
  /** Empty: record only (alerts are stored and shown, never notified). */
  channels: z.array(z.enum(CHANNEL_NAMES)),
  group_by: groupByVar.optional(),
  group_wait: durationVar.optional(),
  group_interval: digestIntervalVar.optional(),
  repeat_interval: digestIntervalVar.optional(),
  critical_immediate: z.boolean().optional(),
});

/** The routes file. */
export const routesFileSchema = z.strictObject({
  routes: z.array(routeFileEntrySchema),
  /** Inhibition rules (inhibit.ts); absent = the default rule, `[]` = none. */
  inhibit_rules: z.array(inhibitRuleSchema).optional(),
});

/** The routing configuration: routes (default last) and inhibition rules. */
export interface Routing {
  routes: Route[];
  inhibitRules: InhibitRule[];
}

/** A fully resolved route. */
export interface Route {
  name: string;
  match: z.infer<typeof alertMatchersSchema>;
  channels: ChannelName[];
  groupBy: GroupLabel[];
  groupWaitMs: number;
  groupIntervalMs: number;
  repeatIntervalMs: number;
  criticalImmediate: boolean;
}

/** The route for `alert`: the first whose matchers all equal its fields, else the last (the default). */
export function routeFor(
  routes: readonly Route[],
  alert: Pick<Alert, "type" | "rule" | "entity" | "severity">,
): Route {
  return routes.find((r) => matchersMatch(r.match, alert)) ?? routes[routes.length - 1]!;
}

/**
 * Resolve the routes file's text against the default route: unset timers and
 * grouping inherit the default's; the default route is appended last. With
 * the file's inhibition rules (the default rule when it names none).
 *
 * Given `staleAfterMs` (`STALE_AFTER`), a route with channels whose timers
 * leave no repeat before it ({@link leastStaleAfter}) is refused.
 *
 * @throws {SyntaxError} "Cannot load routes: …" on bad JSON or an unknown/unconfigured channel
 */
export function parseRouting(
  text: string,
  defaults: Route,
  configured: readonly ChannelName[],
  staleAfterMs?: number,
): Routing {
  // A byte order mark (Notepad's UTF-8) is not JSON; JSON readers may ignore it (RFC 8259 8.1).
  if (text.startsWith("\uFEFF")) text = text.slice(1);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(`Cannot load routes: not JSON (${(error as Error).message})`);
  }
  const duplicate = duplicateKeyProblem(text);
  if (duplicate) throw new SyntaxError(`Cannot load routes: ${duplicate}`);
  const parsed = routesFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new SyntaxError(`Cannot load routes: ${formatZodError(parsed.error)}`);
  }
  const names = new Set<string>([defaults.name]);
  // First match wins: a route after one whose matchers are a subset of its own gets nothing.
  // The earlier routes by their matchers (sorted entries as JSON), so each route looks up its own subsets (at most 16).
  const byMatch = new Map<string, string>();
  const routes: Route[] = parsed.data.routes.map((r) => {
    if (names.has(r.name)) throw new SyntaxError(`Cannot load routes: duplicate name "${r.name}"`);
    names.add(r.name);
    const entries = Object.entries(r.match).filter(([, v]) => v !== undefined).sort();
    for (let subset = 0; subset < 1 << entries.length; subset++) {
      const before = byMatch.get(JSON.stringify(entries.filter((_, i) => subset & (1 << i))));
      if (before === undefined) continue;
      throw new SyntaxError(
        `Cannot load routes: route "${r.name}" can never match: route "${before}" before it ` +
          `matches every alert it would (the first match wins): move it up or narrow "${before}"`,
      );
    }
    byMatch.set(JSON.stringify(entries), r.name);
    const missing = r.channels.find((c) => !configured.includes(c));
    if (missing) {
      throw new SyntaxError(
        `Cannot load routes: route "${r.name}" uses channel "${missing}", which is not configured`,
      );
    }
    const route: Route = {
      name: r.name,
      match: r.match,
      channels: [...new Set(r.channels)],
      groupBy: r.group_by ?? defaults.groupBy,
      groupWaitMs: r.group_wait ?? defaults.groupWaitMs,
      groupIntervalMs: r.group_interval ?? defaults.groupIntervalMs,
      repeatIntervalMs: r.repeat_interval ?? defaults.repeatIntervalMs,
      criticalImmediate: r.critical_immediate ?? defaults.criticalImmediate,
    };
    // A record-only route (no channels) groups and sends nothing: no repeat to miss.
    const sends = route.channels.length > 0;
    const least = leastStaleAfter(route);
    if (sends && staleAfterMs !== undefined && staleAfterMs <= least) {
      throw new SyntaxError(
        `Cannot load routes: route "${r.name}": STALE_AFTER (${formatDuration(staleAfterMs)}) ` +
          "must be longer than its repeat_interval plus the longer of its group_wait and " +
          `group_interval (${formatDuration(least)}): a firing alert would ` +
          "leave its group before its first repeat: lower its repeat_interval or raise STALE_AFTER",
      );
    }
    return route;
  });
  return {
    routes: [...routes, defaults],
    inhibitRules: parsed.data.inhibit_rules ?? [...DEFAULT_INHIBIT_RULES],
  };
}
