/**
 * The single-event rule behind `failed_message`, `latency_high`,
 * `cpu_and_latency` and `amount_high`: each event is judged on its own.
 *
 * With `clearOnFalse`, a later event of the same entity for which the
 * condition is false resolves the open anomaly (a reading back under the
 * threshold); otherwise an anomaly resolves after a quiet period of one
 * cooldown without a matching event.
 *
 * @module
 */
import type { EventType } from "@vigil/shared/schemas/event";
import type { Severity } from "@vigil/shared/schemas/alert";
import { conditionFalse } from "./episodes.ts";
import { type EpisodeState, episodeStateParts, fire, type FiringText } from "./firing.ts";
import type { Reading, Rule } from "./types.ts";

/** How one event is judged. */
export interface Verdict {
  entity: string;
  holds: boolean;
}

/** Options of {@link pointRule}. */
export interface PointRuleOptions<E> {
  name: string;
  type: EventType;
  severity: Severity;
  cooldownMs: number;
  /** Judge an event; undefined when the rule does not apply to it. */
  judge(event: E): Verdict | undefined;
  /** Describe an event that raised an anomaly (called only then: texts cost per event). */
  describe(event: E): Omit<FiringText, "evidence">;
  /** Resolve when a later event of the entity does not hold. @default {false} */
  clearOnFalse?: boolean;
  /** The reading of an event that cleared the condition (its resolution's value), when there is one. */
  reading?(event: E): Reading;
}

/** Build a single-event rule. */
export function pointRule<E>(options: PointRuleOptions<E>): Rule<EpisodeState, E> {
  const { name, type, severity, cooldownMs } = options;
  return {
    name,
    type,
    ...episodeStateParts(name, cooldownMs),
    step(state, input, sink) {
      const v = options.judge(input.event);
      if (v === undefined) return;
      if (!v.holds) {
        if (options.clearOnFalse) {
          const reading = options.reading;
          conditionFalse(
            state.episodes,
            v.entity,
            input.t,
            sink.findings,
            reading && (() => reading(input.event)),
          );
        }
        return;
      }
      fire(
        state.episodes,
        { rule: name, type, entity: v.entity, severity },
        { t: input.t, clearAt: input.t + cooldownMs, cooldownMs, input, sink },
        () => options.describe(input.event),
      );
    },
  };
}
