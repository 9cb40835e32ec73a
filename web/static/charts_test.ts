import assert from "node:assert/strict";
import { count, fmtNum, Sparkline } from "./charts.js";

Deno.test("fmtNum() rounds to 4 significant digits and keeps an exponent whole", () => {
  assert.equal(fmtNum(0.8286691561188123), "0.8287");
  assert.equal(fmtNum(95.29266123054114), "95.29");
  assert.equal(fmtNum(0.0024), "0.0024");
  assert.equal(fmtNum(100.04), "100");
  // An entity score's p-value: "1.128e-1" (the exponent's 0 trimmed) was ten billion times too big.
  assert.equal(fmtNum(1.12754903556502e-10), "1.128e-10");
  assert.equal(fmtNum(1e-10), "1e-10");
  assert.equal(fmtNum(2.5e-20), "2.5e-20");
  assert.equal(fmtNum(1234.5), (1234.5).toLocaleString());
  assert.equal(fmtNum(42), "42");
});

Deno.test("count() says one in the singular and the rest in the plural", () => {
  assert.equal(count(1, "digest"), "1 digest");
  assert.equal(count(0, "digest"), "0 digests");
  assert.equal(count(1042, "row"), "1,042 rows");
  assert.equal(count(1, "anomaly", "anomalies"), "1 anomaly");
  assert.equal(count(2, "anomaly", "anomalies"), "2 anomalies");
});

/** Every element of a preact vnode tree with its type and props. */
function* nodes(v: unknown): Generator<{ type: unknown; props: Record<string, unknown> }> {
  if (Array.isArray(v)) { for (const c of v) yield* nodes(c); }
  else if (v && typeof v === "object" && "props" in v) {
    const node = v as { type: unknown; props: Record<string, unknown> };
    yield node;
    yield* nodes(node.props.children);
  }
}

Deno.test("Sparkline() shows a series of one point as a dot (a path of one point draws nothing)", () => {
  const dots = (points: unknown[]) =>
    [...nodes(
      Sparkline({ points, label: "cpu", markTs: 1000, threshold: undefined, band: undefined }),
    )].filter((n) => n.type === "circle" && n.props.class === "dot").length;
  assert.equal(dots([{ ts: 1000, value: 10, score: 0 }]), 1);
  assert.equal(dots([{ ts: 1000, value: 10, score: 0 }, { ts: 2000, value: 12, score: 0 }]), 0);
});
