import assert from "node:assert/strict";
import { decodeFloat64, decodeUint16, encodeFloat64, encodeUint16 } from "./codec.ts";

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

Deno.test("the base64 text is standard base64 (what btoa gives), for every length", () => {
  for (let n = 0; n < 40; n++) {
    const values = new Uint16Array(n).map((_, i) => (i * 7919 + n * 31) & 0xffff);
    const text = encodeUint16(values);
    const bytes = new Uint8Array(values.length * 2);
    const view = new DataView(bytes.buffer);
    values.forEach((v, i) => view.setUint16(i * 2, v, true));
    assert.equal(text, btoa(String.fromCharCode(...bytes)), `${n} values`);
    assert.deepEqual(decodeUint16(text), values);
  }
  // Odd byte counts (padding "=" and "==") through the float64 path too.
  assert.deepEqual(
    decodeFloat64(encodeFloat64(new Float64Array([1, 2, 3]))),
    new Float64Array([1, 2, 3]),
  );
});
