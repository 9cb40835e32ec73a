import assert from "node:assert/strict";
import { mergeLive } from "./list.js";

type Row = { id: string; status?: string; type?: string; acknowledged_at?: string | null };
const row = (id: string, extra: Partial<Row> = {}): Row => ({ id, type: "logs", ...extra });

Deno.test("mergeLive() puts new alerts on top, newest first, and updates listed ones in place", () => {
  const old = [row("b"), row("a")];
  const r = mergeLive(old, [row("c"), row("a", { status: "resolved" }), row("d")], {}, 10);
  assert.deepEqual(r.items.map((x: Row) => x.id), ["d", "c", "b", "a"]);
  assert.equal(r.items[3].status, "resolved");
  assert.equal(r.items[0].acknowledged_at, null);
  assert.equal(r.dropped, 0);
  assert.equal(old[1]!.status, undefined, "the old list is not changed");
});

Deno.test("mergeLive() keeps the filters, and an alert repeated in one batch once", () => {
  const r = mergeLive([], [
    row("x", { type: "metrics" }),
    row("y"),
    row("y", { status: "resolved" }),
  ], {
    type: "logs",
  }, 10);
  assert.deepEqual(r.items.map((x: Row) => [x.id, x.status]), [["y", "resolved"]]);
});

Deno.test("mergeLive() never grows the list past max (or what it was), dropping the oldest", () => {
  const old = Array.from({ length: 5 }, (_, i) => row(`o${i}`));
  const r = mergeLive(old, [row("n1"), row("n2")], {}, 4);
  assert.deepEqual(
    r.items.map((x: Row) => x.id),
    ["n2", "n1", "o0", "o1", "o2"],
    "kept at 5, its length",
  );
  assert.equal(r.dropped, 2);
  const small = mergeLive([row("a")], [row("b"), row("c"), row("d")], {}, 2);
  assert.deepEqual(small.items.map((x: Row) => x.id), ["d", "c"]);
  assert.equal(small.dropped, 2);
  // 20,000 alerts in one batch over 5,000 rows.
  const big = Array.from({ length: 5000 }, (_, i) => row(`r${i}`));
  const storm = Array.from({ length: 20_000 }, (_, i) => row(`s${i}`));
  const s = mergeLive(big, storm, {}, 5000);
  assert.equal(s.items.length, 5000);
  assert.equal(s.items[0].id, "s19999");
});
