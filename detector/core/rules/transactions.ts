/**
 * Rules over the transactions stream: `amount_high`, `user_frequency`,
 * `status_zscore`.
 *
 * @module
 */
import type { TransactionEvent } from "@vigil/shared/schemas/event";
import { countRule } from "./count_rule.ts";
import { pointRule } from "./point_rule.ts";
import { ruleSet } from "./rule_set.ts";
import { statusZScoreRule } from "./status_zscore.ts";

/** The enabled transaction rules for a config. */
export const transactionRules = ruleSet("transactions", {
  amount_high: (entry, config) => {
    const { amount, per_currency: perCurrency } = entry;
    const limitOf = (e: TransactionEvent) => perCurrency[e.currency] ?? amount;
    return pointRule<TransactionEvent>({
      name: "amount_high",
      type: "transactions",
      severity: entry.severity,
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
    });
  },
  user_frequency: (entry, config, limits) =>
    countRule<TransactionEvent>({
      name: "user_frequency",
      type: "transactions",
      select: (e) => e.user_id,
      entry,
      maxEntities: limits.maxWindowEntities,
      cooldownMs: config.cooldown,
      title: (user, n) => `Frequent transactions by ${user}: ${n}`,
    }),
  status_zscore: (entry, config) => statusZScoreRule(entry, config.cooldown),
});
