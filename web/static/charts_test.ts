import assert from "node:assert/strict";
import { fmtNum } from "./charts.js";

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
