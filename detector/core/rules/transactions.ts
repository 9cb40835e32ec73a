/**
 * Rules over the transactions stream: `amount_high`, `user_frequency`,
 * `status_zscore`.
 *
 * @module
 */
import type { TransactionEvent } from "@vigil/shared/schemas/event";
import type { RulesConfig } from "../rules_config.ts";
import { DEFAULT_STATE_LIMITS, type StateLimits } from "../state_limits.ts";
import { perUserCountRule } from "./count_rule.ts";
import { pointRule } from "./point_rule.ts";
import { statusZScoreRule } from "./status_zscore.ts";
import type { Rule } from "./types.ts";

/** The enabled transaction rules for `config`. */
export function transactionRules(
  config: RulesConfig,
  limits: Readonly<StateLimits> = DEFAULT_STATE_LIMITS,
): Rule<unknown, TransactionEvent>[] {
  const c = config.transactions;
  const rules: Rule<unknown, TransactionEvent>[] = [];
  if (c.amount_high.enabled) {
    const { amount, per_currency: perCurrency } = c.amount_high;
    const limitOf = (e: TransactionEvent) => perCurrency[e.currency] ?? amount;
    rules.push(pointRule<TransactionEvent>({
      name: "amount_high",
      type: "transactions",
      severity: c.amount_high.severity,
      cooldownMs: config.cooldown,
      judge: (e) => e.amount > limitOf(e) ? { entity: e.user_id, holds: true } : undefined,
      describe(e) {
        const limit = limitOf(e);
        return {
          title: `Large transaction by ${e.user_id}`,
          message:
            `${e.amount} ${e.currency} > ${limit} ${e.currency} (transaction ${e.transaction_id})`,
          score: e.amount,
          details: {
            amount: e.amount,
            currency: e.currency,
            threshold: limit,
            transaction_id: e.transaction_id,
            status: e.status,
          },
        };
      },
    }));
  }
  if (c.user_frequency.enabled) {
    const title = (user: string, n: number) => `Frequent transactions by ${user}: ${n}`;
    rules.push(
      perUserCountRule<TransactionEvent>(
        "user_frequency",
        "transactions",
        c.user_frequency,
        config.cooldown,
        title,
        limits.maxWindowEntities,
      ),
    );
  }
  if (c.status_zscore.enabled) rules.push(statusZScoreRule(c.status_zscore, config.cooldown));
  return rules;
}
