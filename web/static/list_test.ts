import assert from "node:assert/strict";
import { alertLink, applyUpdate, mergeLive } from "./list.js";

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

Deno.test("mergeLive() places an unlisted anomaly by its detection time, not on top", () => {
  const t = (m: number) => new Date(Date.UTC(2026, 0, 1, 12, m)).toISOString();
  const old = [10, 8, 6].map((m) => ({ id: `r${m}`, type: "logs", detected_at: t(m) }));
  const resolved = (m: number) => ({
    id: `x${m}`,
    type: "logs",
    status: "resolved",
    detected_at: t(m),
    resolved_at: t(11),
  });
  const fresh = { id: "new", type: "logs", status: "firing", detected_at: t(11) };
  // The server has more rows: one older than every listed row comes with its page.
  const more = mergeLive(old, [resolved(7), fresh, resolved(2)], {}, 10, true);
  assert.deepEqual(more.items.map((x: Row) => x.id), ["new", "r10", "r8", "x7", "r6"]);
  assert.equal(more.dropped, 0);
  // The whole list is loaded: it goes at the end.
  const all = mergeLive(old, [resolved(2)], {}, 10, false);
  assert.deepEqual(all.items.map((x: Row) => x.id), ["r10", "r8", "r6", "x2"]);
});

Deno.test("mergeLive() leaves out the resolution of an unlisted anomaly under an acknowledged filter", () => {
  // A live alert does not say whether the anomaly was acknowledged: under "not acknowledged",
  // the resolution of one left out of the list (acknowledged) used to join it as not acknowledged.
  const old = [row("a1", { acknowledged_at: null })];
  const resolution = row("a2", { status: "resolved" });
  const fresh = row("a3", { status: "firing" });
  const notAcked = mergeLive(old, [resolution, fresh], { acknowledged: "false" }, 10);
  assert.deepEqual(notAcked.items.map((x: Row) => x.id), ["a3", "a1"]);
  // A listed row is updated in place; without that filter the resolution joins the list.
  const listed = mergeLive([row("a2")], [resolution], { acknowledged: "false" }, 10);
  assert.equal(listed.items[0].status, "resolved");
  assert.deepEqual(mergeLive(old, [resolution], {}, 10).items.map((x: Row) => x.id), ["a2", "a1"]);
});

Deno.test("applyUpdate() changes a listed row, and takes it out when it leaves the filters", () => {
  const old = [row("a"), row("b"), row("c")];
  const ack = { id: "b", acknowledged_at: "2026-01-02T03:04:05.000Z" };
  const all = applyUpdate(old, ack, {});
  assert.deepEqual(all.map((x: Row) => [x.id, x.acknowledged_at ?? null]), [
    ["a", null],
    ["b", ack.acknowledged_at],
    ["c", null],
  ]);
  assert.equal(all[1].type, "logs", "what the update does not say is kept");
  const open = applyUpdate(old, ack, { acknowledged: "false" });
  assert.deepEqual(open.map((x: Row) => x.id), ["a", "c"]);
  assert.equal(applyUpdate(old, { ...ack, id: "z" }, {}), old, "not listed: the same list");
  assert.equal(old[1]!.acknowledged_at, undefined, "the old list is not changed");
});

Deno.test("alertLink() opens an anomaly in the list under its filters", () => {
  assert.equal(alertLink("a/1"), "/alerts/a%2F1");
  assert.equal(
    alertLink("a1", { acknowledged: "false", type: "logs" }),
    "/alerts/a1?type=logs&acknowledged=false",
  );
});
