import assert from "node:assert/strict";
import { isCanonicalText } from "@vigil/shared/schemas/canonical";
import type { EventType } from "@vigil/shared/schemas/event";
import { createEntityTraffic, userLoad } from "./entity_traffic.ts";

Deno.test("createEntityTraffic() covers its population, in canonical form, within userLoad()", () => {
  const options = { users: 1000, services: 20, seed: 3 };
  const traffic = createEntityTraffic(options);
  assert.deepEqual(traffic.entities, { users: 1000, services: 20, series: 60, total: 1080 });
  const rate = 200;
  const t0 = Date.UTC(2026, 0, 1);
  const users = new Set<string>();
  const services = new Set<string>();
  const seen: Record<"logs" | "transactions", Map<string, number[]>> = {
    logs: new Map(),
    transactions: new Map(),
  };
  const counts = { logs: 0, metrics: 0, transactions: 0 };
  for (let s = 0; s < 600; s++) {
    const t = t0 + s * 1000;
    for (const m of traffic.next(t, rate)) {
      assert.ok(isCanonicalText(m.topic as EventType, m.value), m.value);
      counts[m.topic as EventType]++;
      const e = JSON.parse(m.value) as { service?: string; user_id?: string };
      if (e.service) services.add(e.service);
      if (e.user_id && m.topic !== "metrics") {
        users.add(e.user_id);
        const list = seen[m.topic as "logs" | "transactions"];
        list.set(e.user_id, [...(list.get(e.user_id) ?? []), t]);
      }
    }
  }
  assert.equal(users.size, 1000);
  assert.equal(services.size, 20);
  // One reading per service every 10 s: one every 500 ms from t0 to t0 + 599 s.
  assert.equal(counts.metrics, 599_000 / 500 + 1);
  const most = (times: Map<string, number[]>, windowMs: number) => {
    let max = 0;
    for (const ts of times.values()) {
      for (let i = 0, j = 0; j < ts.length; j++) {
        while (ts[j]! - ts[i]! >= windowMs) i++;
        max = Math.max(max, j - i + 1);
      }
    }
    return max;
  };
  const bound = userLoad(rate, 300_000, options);
  assert.ok(most(seen.transactions, 300_000) <= bound.transactions);
  assert.ok(most(seen.logs, 180_000) <= userLoad(rate, 180_000, options).logs);
  assert.ok(most(seen.transactions, 300_000) >= bound.transactions - 1, "the bound is tight");
});
