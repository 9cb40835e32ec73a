/**
 * A stream's rule set from one builder per rule of its config section: the
 * rules whose entry is enabled, built in the builders' order.
 *
 * @module
 */
import type { EventOf } from "@vigil/shared/schemas/event";
import type { RulesConfig } from "../rules_config.ts";
import { DEFAULT_STATE_LIMITS, type StateLimits } from "../state_limits.ts";
import type { Rule } from "./types.ts";

/**
 * The config sections whose rules are built from their entry alone (not
 * `metrics`: its score rules share the engine and a handoff, metrics.ts).
 */
type Section = "logs" | "transactions";

/** Builds one rule from its config entry, the whole config (cooldown) and the state limits. */
type RuleBuilder<T extends Section, K extends keyof RulesConfig[T]> = (
  entry: RulesConfig[T][K],
  config: RulesConfig,
  limits: Readonly<StateLimits>,
) => Rule<unknown, EventOf<T>>;

/** The enabled rules of one stream for `config`. */
export type RuleSet<T extends Section> = (
  config: RulesConfig,
  limits?: Readonly<StateLimits>,
) => Rule<unknown, EventOf<T>>[];

/** The rule set of section `type`: a builder for every rule of the section. */
export function ruleSet<T extends Section>(
  type: T,
  builders: { [K in keyof RulesConfig[T]]: RuleBuilder<T, K> },
): RuleSet<T> {
  return (config, limits = DEFAULT_STATE_LIMITS) => {
    const rules: Rule<unknown, EventOf<T>>[] = [];
    for (const name in builders) {
      const entry = config[type][name];
      const { enabled } = entry as { enabled: boolean };
      if (enabled) rules.push(builders[name](entry, config, limits));
    }
    return rules;
  };
}
