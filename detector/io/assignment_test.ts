import assert from "node:assert/strict";
import { assign } from "./assignment.ts";

const units = ["logs:0", "logs:1", "metrics:0", "metrics:1", "transactions:0", "transactions:1"];

Deno.test("assign() gives every unit to exactly one live member, evenly, whatever the order", () => {
  const members = ["b", "a", "c"];
  const shares = members.map((m) => assign(units, members, m));
  assert.deepEqual(shares.flat().sort(), [...units].sort());
  assert.ok(shares.every((s) => s.length === 2));
  // Every member computes the same answer from its own (unsorted) view.
  assert.deepEqual(assign([...units].reverse(), ["c", "a", "b"], "a"), assign(units, members, "a"));
});

Deno.test("assign() gives a lone member everything and a non-member nothing", () => {
  assert.deepEqual(assign(units, ["x"], "x"), [...units].sort());
  assert.deepEqual(assign(units, ["x"], "y"), []);
  assert.deepEqual(assign(units, [], "y"), []);
});
