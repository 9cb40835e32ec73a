import assert from "node:assert/strict";
import { createArena, separateFloat64 } from "./arena.ts";

Deno.test("createArena() hands out consecutive, zeroed, non-overlapping views of one buffer", () => {
  const alloc = createArena(10);
  const a = alloc(3);
  const b = alloc(7);
  assert.equal(a.buffer, b.buffer);
  assert.equal(a.byteOffset, 0);
  assert.equal(b.byteOffset, 3 * 8);
  assert.deepEqual([...a, ...b], new Array(10).fill(0));
  a.fill(1);
  assert.deepEqual([...b], new Array(7).fill(0), "writing one view leaves the next alone");
  assert.throws(() => alloc(1), RangeError);
});

Deno.test("separateFloat64() allocates an array of its own", () => {
  const a = separateFloat64(4);
  assert.equal(a.length, 4);
  assert.notEqual(a.buffer, separateFloat64(4).buffer);
});
