import assert from "node:assert/strict";
import { silentLogger } from "@vigil/tools/testing/log";
import type { Firing } from "../core/rules/types.ts";
import { createPersistStage } from "./persist.ts";
import type { AnomalyRow, AnomalyStore } from "./store.ts";

/** A store whose first insert commits but never answers (a write that timed out, then landed). */
function lateCommitStore() {
  const rows = new Map<string, AnomalyRow>();
  let inserts = 0;
  const store = {
    insert(firings: readonly Firing[]) {
      const fresh = firings.filter((f) => !rows.has(f.id));
      for (const f of fresh) rows.set(f.id, { id: f.id, published_at: null } as AnomalyRow);
      if (inserts++ === 0) return new Promise<AnomalyRow[]>(() => {}); // committed, no answer
      return Promise.resolve(fresh.map((f) => rows.get(f.id)!));
    },
    resolve: () => Promise.resolve([]),
    unpublishedIn(ids: readonly string[]) {
      const firing = ids.map((id) => rows.get(id)).filter((r) => r && r.published_at === null);
      return Promise.resolve({ firing: firing as AnomalyRow[], resolved: [] });
    },
  } as unknown as AnomalyStore;
  return store;
}

Deno.test("persist: a write that committed after it timed out is returned, whatever another stream stores meanwhile", async () => {
  // The stage is shared by every unit's pipeline, the API's dispatch and the stream watch. Its
  // "this batch was retried" flag was one variable for all of them: another call starting while
  // one retried a timed-out insert cleared it, so the rows the late attempt had committed were
  // neither returned nor published with their batch, which was acknowledged all the same (the
  // outbox sweep published them up to a minute later).
  const signal = new AbortController().signal;
  let other: Promise<unknown> | undefined;
  const persist = createPersistStage({
    store: lateCommitStore(),
    log: silentLogger(),
    ioTimeoutMs: 20,
    onRetry: () => {
      // Another unit's batch (with nothing to store) goes through the stage meanwhile.
      other ??= persist([], [], "vigil:events:{metrics:0}", signal);
    },
  });
  const firing = { kind: "firing", id: "a1", rule: "latency_high" } as unknown as Firing;
  const stored = await persist([firing], [], "vigil:events:{logs:0}", signal);
  await other;
  assert.ok(other, "another call ran while the insert was retried");
  assert.deepEqual(stored.created.map((r) => r.id), ["a1"], "the row committed late is ours");
});
