import assert from "node:assert/strict";
import { loadDetectorConfig } from "./config.ts";

Deno.test("loadDetectorConfig() applies the documented defaults", () => {
  const c = loadDetectorConfig({});
  assert.equal(c.DETECTOR_PORT, 9103);
  assert.equal(c.DETECTOR_IO_TIMEOUT, 10_000);
  assert.equal(c.DETECTOR_LEASE_TTL, 10_000);
  assert.equal(c.DETECTOR_NO_DATA_CHECK, 10_000);
  assert.equal(c.DETECTOR_CHECKPOINT_INTERVAL, 5000);
});

Deno.test("detector timers are bounded: past 2^31-1 ms a timer fires at once", async (t) => {
  // DETECTOR_IO_TIMEOUT=30d failed every write at once; DETECTOR_NO_DATA_CHECK=30d read the
  // streams' newest entries in a tight loop.
  const cases: [string, string, string, RegExp][] = [
    ["DETECTOR_IO_TIMEOUT", "10m", "30d", /DETECTOR_IO_TIMEOUT must be between 100ms and 10m/],
    ["DETECTOR_NO_DATA_CHECK", "1h", "30d", /DETECTOR_NO_DATA_CHECK must be between 100ms and 1h/],
    ["DETECTOR_LEASE_TTL", "1h", "100d", /DETECTOR_LEASE_TTL must be between 500ms and 1h/],
  ];
  for (const [name, ok, bad, message] of cases) {
    await t.step(name, () => {
      assert.ok(loadDetectorConfig({ [name]: ok })[name as "DETECTOR_IO_TIMEOUT"] > 0);
      assert.throws(
        () => loadDetectorConfig({ [name]: bad }),
        (e: Error) => e.name === "ConfigError" && message.test(e.message),
      );
    });
  }
});

Deno.test("a duration out of range is refused in units, not in bare milliseconds", () => {
  // "Too big: expected number to be <=5000" for DETECTOR_BLOCK=10s read as 5000 seconds.
  const cases: [string, string, RegExp][] = [
    ["DETECTOR_BLOCK", "10s", /DETECTOR_BLOCK must be between 1ms and 5s \(got "10s"\)/],
    ["SCORE_TTL", "500ms", /SCORE_TTL must be at least 1s \(got "500ms"\)/],
    ["DETECTOR_SERIES_IDLE_TTL", "0", /DETECTOR_SERIES_IDLE_TTL must be at least 1s/],
  ];
  for (const [name, value, message] of cases) {
    assert.throws(() => loadDetectorConfig({ [name]: value }), message, name);
  }
});
