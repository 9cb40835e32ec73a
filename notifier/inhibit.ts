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
 * The id of a firing source that inhibits `alert`, or null. An alert never
 * inhibits itself; `sources` are the firing alerts held (any group). As in
 * Alertmanager, an alert matching both sides of a rule is not inhibited by one
 * that also matches both: two CRITICALs of one service under "a CRITICAL
 * hides the metrics alerts of its service" each hid the other, and neither
 * was sent.
 */
export function inhibitorOf(
  alert: Labelled,
  sources: readonly Labelled[],
  rules: readonly InhibitRule[],
): string | null {
  for (const rule of rules) {
    if (!matchersMatch(rule.target, alert)) continue;
    const bothSides = matchersMatch(rule.source, alert);
    for (const s of sources) {
      if (s.id === alert.id || !matchersMatch(rule.source, s)) continue;
      if (bothSides && matchersMatch(rule.target, s)) continue;
      if (rule.equal.every((l) => s[l] === alert[l])) return s.id;
    }
  }
  return null;
}

/** Whether some rule targets `alert` (else no firing source need be looked for). */
export function inhibitable(alert: Labelled, rules: readonly InhibitRule[]): boolean {
  return rules.some((rule) => matchersMatch(rule.target, alert));
}
