import assert from "node:assert/strict";
import { DEFAULT_ENGINE_CONFIG, validateConfig } from "./config.ts";

const C = DEFAULT_ENGINE_CONFIG;

Deno.test("DEFAULT_ENGINE_CONFIG is valid and frozen", () => {
  assert.equal(validateConfig(C), C);
  assert.ok(Object.isFrozen(C));
  assert.equal(C.alarmProbability, 1e-6);
  assert.equal(C.artimeThreshold, 0.6);
  assert.equal(C.rangeTolerance, 0.15);
});

Deno.test("validateConfig() names the first invalid field in a RangeError", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ deviationScale: 0 }, /deviationScale/],
    [{ windowSize: 3 }, /windowSize/],
    [{ windowSize: 10.5 }, /windowSize/],
    [{ seasonAlpha: 0 }, /seasonAlpha/],
    [{ alarmProbability: 0.5 }, /alarmProbability/],
    [{ artWindow: 6 }, /artWindow/],
    [{ artMaxCategories: 1 }, /artMaxCategories/],
    [{ likelihood: "yes" }, /likelihood/],
    [{ artTrendWindow: 15 }, /artTrendWindow must be at least 2 × artWindow/],
  ];
  for (const [change, message] of cases) {
    assert.throws(
      () => validateConfig({ ...C, ...change } as typeof C),
      (e: unknown) => e instanceof RangeError && message.test(e.message),
      JSON.stringify(change),
    );
  }
  assert.doesNotThrow(() => validateConfig({ ...C, artWindow: 16, artTrendWindow: 32 }));
});
