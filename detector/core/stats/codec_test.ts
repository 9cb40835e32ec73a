import assert from "node:assert/strict";
import { decodeFloat64, encodeFloat64 } from "./codec.ts";

Deno.test("float64 encoding round-trips every bit", () => {
  const values = new Float64Array([
    0,
    -0,
    1.5,
    -1e-310,
    5e-324,
    1e308,
    NaN,
    Infinity,
    -Infinity,
    Math.PI,
  ]);
  const back = decodeFloat64(encodeFloat64(values));
  assert.equal(back.length, values.length);
  assert.deepEqual(new Uint8Array(back.buffer), new Uint8Array(values.buffer));
  const big = new Float64Array(20_000).map((_, i) => i * 0.1);
  assert.deepEqual(decodeFloat64(encodeFloat64(big)), big);
});

Deno.test("decoding refuses text that is not whole float64s in base64", () => {
  assert.throws(() => decodeFloat64("!!!"), /not valid base64/);
  assert.throws(() => decodeFloat64(btoa("abc")), /multiple of 8/);
  assert.equal(decodeFloat64("").length, 0);
});
