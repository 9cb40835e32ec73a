/**
 * Rules over the logs stream: `error_spike`, `failed_message`, `user_spike`.
 *
 * @module
 */
import type { LogEvent } from "@vigil/shared/schemas/event";
import type { RulesConfig } from "../rules_config.ts";
import { DEFAULT_STATE_LIMITS, type StateLimits } from "../state_limits.ts";
import { countRule, perUserCountRule } from "./count_rule.ts";
import { pointRule } from "./point_rule.ts";
import type { Rule } from "./types.ts";

/** The enabled log rules for `config`. */
export function logRules(
  config: RulesConfig,
  limits: Readonly<StateLimits> = DEFAULT_STATE_LIMITS,
): Rule<unknown, LogEvent>[] {
  const c = config.logs;
  const rules: Rule<unknown, LogEvent>[] = [];
  if (c.error_spike.enabled) {
    rules.push(countRule<LogEvent>({
      name: "error_spike",
      type: "logs",
      select: (e) => (e.level === "ERROR" ? e.service : undefined),
      entry: c.error_spike,
      maxEntities: limits.maxWindowEntities,
      cooldownMs: config.cooldown,
      title: (service, n) => `Error spike on ${service}: ${n} ERROR logs`,
    }));
  }
  if (c.failed_message.enabled) {
    const needle = c.failed_message.contains.toLowerCase();
    const levels = new Set<string>(c.failed_message.levels);
    rules.push(pointRule<LogEvent>({
      name: "failed_message",
      type: "logs",
      severity: c.failed_message.severity,
      cooldownMs: config.cooldown,
      judge: (e) =>
        levels.has(e.level) && e.message.toLowerCase().includes(needle)
          ? { entity: e.service, holds: true }
          : undefined,
      describe: (e) => ({
        title: `Failure reported by ${e.service}`,
        message: e.message.slice(0, 500),
        score: null,
        details: { level: e.level, contains: needle, log_message: e.message.slice(0, 2000) },
      }),
    }));
  }
  if (c.user_spike.enabled) {
    const title = (user: string, n: number) => `Log spike for user ${user}: ${n} logs`;
    rules.push(
      perUserCountRule<LogEvent>(
        "user_spike",
        "logs",
        c.user_spike,
        config.cooldown,
        title,
        limits.maxWindowEntities,
      ),
    );
  }
  return rules;
}
