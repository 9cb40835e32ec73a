/**
 * Inhibition (Alertmanager's term): while a firing alert matches a rule's
 * `source` matchers, alerts matching its `target` matchers that have the
 * same values of its `equal` labels are left out of digests. The default
 * rule: a firing CRITICAL suppresses the WARNINGs of the same entity.
 * Configured in the routes file (`inhibit_rules`); `[]` turns it off. Pure.
 *
 * ```json
 * { "routes": [],
 *   "inhibit_rules": [
 *     { "source": { "severity": "CRITICAL" }, "target": { "severity": "WARNING" }, "equal": ["entity"] }
 *   ] }
 * ```
 *
 * @module
 */
import { z } from "zod";
import type { Alert } from "@vigil/shared/schemas/alert";
import { silenceMatchersSchema } from "@vigil/shared/schemas/silence";
import { matchersMatch } from "@vigil/shared/silences";
import { GROUP_LABELS } from "./groups.ts";

/** One inhibition rule of the routes file. */
export const inhibitRuleSchema = z.strictObject({
  source: silenceMatchersSchema,
  target: silenceMatchersSchema,
  /** Labels whose values must be equal in source and target. @default {["entity"]} */
  equal: z.array(z.enum(GROUP_LABELS)).default(["entity"]),
});
export type InhibitRule = z.infer<typeof inhibitRuleSchema>;

/** A firing CRITICAL suppresses the WARNINGs of the same entity. */
export const DEFAULT_INHIBIT_RULES: readonly InhibitRule[] = [
  { source: { severity: "CRITICAL" }, target: { severity: "WARNING" }, equal: ["entity"] },
];

type Labelled = Pick<Alert, "id" | "type" | "rule" | "entity" | "severity">;

/**
 * For an alert, the id of a firing source among `sources` that inhibits it, or
 * null. An alert never inhibits itself; `sources` are the firing alerts held (any group). As in
 * Alertmanager, an alert matching both sides of a rule is not inhibited by one
 * that also matches both: two CRITICALs of one service under "a CRITICAL
 * hides the metrics alerts of its service" each hid the other, and neither
 * was sent.
 *
 * Indexed per rule by the values of its `equal` labels: each alert looks only
 * at the sources sharing them (comparing every held alert with every source
 * took seconds per digest with 20,000 alerts held); the first such source in
 * `sources` order.
 */
export function createInhibitor(
  sources: readonly Labelled[],
  rules: readonly InhibitRule[],
): (alert: Labelled) => string | null {
  const keyOf = (a: Labelled, rule: InhibitRule) => JSON.stringify(rule.equal.map((l) => a[l]));
  let index: Map<string, Labelled[]>[] | undefined; // built on the first alert a rule targets
  const build = () =>
    rules.map((rule) =>
      Map.groupBy(sources.filter((s) => matchersMatch(rule.source, s)), (s) => keyOf(s, rule))
    );
  return (alert) => {
    for (const [i, rule] of rules.entries()) {
      if (!matchersMatch(rule.target, alert)) continue;
      index ??= build();
      const bothSides = matchersMatch(rule.source, alert);
      for (const s of index[i]!.get(keyOf(alert, rule)) ?? []) {
        if (s.id === alert.id) continue;
        if (bothSides && matchersMatch(rule.target, s)) continue;
        return s.id;
      }
    }
    return null;
  };
}

/** Whether some rule targets `alert` (else no firing source need be looked for). */
export function inhibitable(alert: Labelled, rules: readonly InhibitRule[]): boolean {
  return rules.some((rule) => matchersMatch(rule.target, alert));
}
