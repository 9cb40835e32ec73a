/**
 * Rules over the logs stream: `error_spike`, `failed_message`, `user_spike`.
 *
 * @module
 */
import type { LogEvent } from "@vigil/shared/schemas/event";
import { cutText } from "@vigil/shared/text";
import { countRule } from "./count_rule.ts";
import { pointRule } from "./point_rule.ts";
import { ruleSet } from "./rule_set.ts";

/** The enabled log rules for a config. */
export const logRules = ruleSet("logs", {
  error_spike: (entry, config, limits) =>
    countRule<LogEvent>({
      name: "error_spike",
      type: "logs",
      select: (e) => (e.level === "ERROR" ? e.service : undefined),
      entry,
      maxEntities: limits.maxWindowEntities,
      cooldownMs: config.cooldown,
      title: (service, n) => `Error spike on ${service}: ${n} ERROR logs`,
    }),
  failed_message: (entry, config) => {
    const needle = entry.contains.toLowerCase();
    const levels = new Set<string>(entry.levels);
    return pointRule<LogEvent>({
      name: "failed_message",
      type: "logs",
      severity: entry.severity,
      cooldownMs: config.cooldown,
      judge: (e) =>
        levels.has(e.level) && e.message.toLowerCase().includes(needle)
          ? { entity: e.service, holds: true }
          : undefined,
      describe: (e) => ({
        title: `Failure reported by ${e.service}`,
        message: cutText(e.message, 500),
        score: null,
        details: { level: e.level, contains: needle, log_message: cutText(e.message, 2000) },
      }),
    });
  },
  user_spike: (entry, config, limits) =>
    countRule<LogEvent>({
      name: "user_spike",
      type: "logs",
      select: (e) => e.user_id,
      entry,
      maxEntities: limits.maxWindowEntities,
      cooldownMs: config.cooldown,
      title: (user, n) => `Log spike for user ${user}: ${n} logs`,
    }),
});
