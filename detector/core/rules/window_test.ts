import assert from "node:assert/strict";
import {
  BUCKET_MS,
  createWindowSet,
  evictOldest,
  insertEvent,
  loadWindows,
  pruneWindows,
  saveWindows,
} from "./window.ts";

const ref = (i: number) => ({ id: `${i}-0`, partition: 0, offset: String(i) });

Deno.test("evictOldest() forgets the entities whose oldest event is oldest, down to max", () => {
  const set = createWindowSet();
  insertEvent(set, "a", 10, ref(1));
  insertEvent(set, "b", 20, ref(2));
  insertEvent(set, "c", 30, ref(3));
  insertEvent(set, "a", 40, ref(4)); // a is active again, but its oldest event is still the oldest
  insertEvent(set, "d", 50, ref(5));
  assert.equal(evictOldest(set, 4), 0, "nothing beyond max");
  assert.equal(evictOldest(set, 2), 2);
  assert.deepEqual([...set.byEntity.keys()].sort(), ["c", "d"]);
  // An entity forgotten and seen again starts a new window; its old queue entries are stale.
  insertEvent(set, "a", 60, ref(6));
  assert.equal(evictOldest(set, 2), 1);
  assert.deepEqual([...set.byEntity.keys()].sort(), ["a", "d"], "c (oldest at 30) went, not a");
  assert.equal(set.byEntity.get("a")!.length, 5, "a holds only its new event");
});

Deno.test("pruneWindows() drops an idle entity within BUCKET_MS after its events leave the window", () => {
  const set = createWindowSet();
  insertEvent(set, "idle", 1000, ref(1));
  insertEvent(set, "busy", 1000, ref(2));
  insertEvent(set, "busy", 5000, ref(3));
  pruneWindows(set, 1000 + BUCKET_MS - 1); // its bucket is not wholly before the cutoff yet
  assert.equal(set.byEntity.size, 2);
  pruneWindows(set, 1000 + BUCKET_MS);
  assert.deepEqual([...set.byEntity.keys()], ["busy"]);
  assert.equal(set.byEntity.get("busy")!.length, 5, "busy keeps its event at 5000");
  pruneWindows(set, 5000 + BUCKET_MS); // filed again under 5000: found again
  assert.equal(set.byEntity.size, 0);
  assert.equal(set.buckets.size, 0, "nothing left in the index");
});

Deno.test("loadWindows() rebuilds the expiry index: a restored set prunes and evicts", () => {
  const set = createWindowSet(true);
  insertEvent(set, "a", 1000, ref(1), 50);
  insertEvent(set, "b", 3000, ref(2), 60);
  insertEvent(set, "c", 9000, ref(3), 70);
  const restored = loadWindows(JSON.parse(JSON.stringify(saveWindows(set))));
  assert.deepEqual([...restored.byEntity], [...set.byEntity]);
  pruneWindows(restored, 2000);
  assert.deepEqual([...restored.byEntity.keys()], ["b", "c"]);
  assert.equal(evictOldest(restored, 1), 1);
  assert.deepEqual([...restored.byEntity.keys()], ["c"]);
});
