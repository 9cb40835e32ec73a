import assert from "node:assert/strict";
import {
  BUCKET_MS,
  createWindowSet,
  evictOldest,
  insertEvent,
  loadWindows,
  pruneWindows,
  refsOf,
  saveWindows,
  valueAt,
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
  assert.equal(set.byEntity.get("a")!.length, set.stride, "a holds only its new event");
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
  assert.equal(set.byEntity.get("busy")!.length, set.stride, "busy keeps its event at 5000");
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

Deno.test("refs come back exactly from the packed layout, at its bounds too", () => {
  const set = createWindowSet(true);
  const refs = [
    { id: "1733000000000-0", partition: 0, offset: "0" },
    { id: "1733000000001-2047", partition: 4095, offset: String(2 ** 41 - 1) },
    { id: `${2 ** 42 - 1}-17`, partition: 23, offset: "9007199" },
  ];
  refs.forEach((r, i) => insertEvent(set, "svc", 1000 + i, r, 50 + i));
  assert.equal(set.stride, 4, "still packed");
  const w = set.byEntity.get("svc")!;
  assert.deepEqual(refsOf(w, set.stride, 0, 3), refs);
  assert.deepEqual([0, 1, 2].map((i) => valueAt(w, set.stride, i)), [50, 51, 52]);
});

Deno.test("a ref that does not pack widens the set once, every ref and value kept", () => {
  for (
    const odd of [
      { id: "1733000000000-2048", partition: 1, offset: "5" }, // a busy millisecond
      { id: "1733000000000-0", partition: 4096, offset: "5" }, // many partitions
      { id: "1733000000000-0", partition: 1, offset: String(2 ** 41) }, // a huge offset
    ]
  ) {
    const set = createWindowSet(true);
    const before = { id: "1733000000000-3", partition: 2, offset: "77" };
    insertEvent(set, "a", 1000, before, 90);
    insertEvent(set, "b", 1500, before, 91);
    insertEvent(set, "a", 2000, odd, 92);
    assert.equal(set.stride, 6, `widened for ${JSON.stringify(odd)}`);
    const a = set.byEntity.get("a")!;
    assert.deepEqual(refsOf(a, 6, 0, 2), [before, odd]);
    assert.deepEqual([valueAt(a, 6, 0), valueAt(a, 6, 1)], [90, 92]);
    assert.deepEqual(refsOf(set.byEntity.get("b")!, 6, 0, 1), [before]);
    // Saved wide, loaded wide: one ref does not pack.
    const restored = loadWindows(JSON.parse(JSON.stringify(saveWindows(set))));
    assert.equal(restored.stride, 6);
    assert.deepEqual(refsOf(restored.byEntity.get("a")!, 6, 0, 2), [before, odd]);
  }
});

Deno.test("loadWindows() packs a checkpoint saved in the unpacked layout", () => {
  // As a detector before packing saved it: t, ms, seq, partition, offset.
  const saved = {
    v: 3,
    stride: 5,
    windows: [["u1", [1000, 1733000000000, 4, 7, 1234, 2500, 1733000000050, 0, 7, 1240]]],
  };
  const set = loadWindows(saved);
  assert.equal(set.stride, 3);
  assert.deepEqual(refsOf(set.byEntity.get("u1")!, 3, 0, 2), [
    { id: "1733000000000-4", partition: 7, offset: "1234" },
    { id: "1733000000050-0", partition: 7, offset: "1240" },
  ]);
  pruneWindows(set, 1000 + BUCKET_MS);
  assert.equal(set.byEntity.get("u1")!.length, 3, "one event left");
});
