import assert from "node:assert/strict";
import { loadDetectorConfig, loadDetectorRules, rebuildWindowProblem } from "./config.ts";
import { DEFAULT_RULES, loadRulesConfig } from "./core/rules_config.ts";

Deno.test("loadDetectorConfig() applies the documented defaults", () => {
  const c = loadDetectorConfig({});
  assert.equal(c.DETECTOR_PORT, 9103);
  assert.equal(c.DETECTOR_IO_TIMEOUT, 5000);
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
      const env = { DETECTOR_LEASE_TTL: "1h", [name]: ok };
      assert.ok(loadDetectorConfig(env)[name as "DETECTOR_IO_TIMEOUT"] > 0);
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

Deno.test("loadDetectorRules() refuses a count window longer than DETECTOR_REBUILD_WINDOW, at start and on reload", async () => {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(path, JSON.stringify({ logs: { user_spike: { window: "15m" } } }));
    await assert.rejects(
      loadDetectorRules(path, 600_000),
      (e: Error) =>
        e instanceof TypeError &&
        e.message.startsWith(`Cannot load rules file ${path}: logs.user_spike.window: must be `) &&
        e.message.includes(
          "at most DETECTOR_REBUILD_WINDOW (window 15m, DETECTOR_REBUILD_WINDOW 10m)",
        ),
    );
    // Equal is fine; a rule that is off is not rebuilt; without the option nothing is compared.
    assert.equal((await loadDetectorRules(path, 900_000)).cooldown, 300_000);
    assert.equal((await loadRulesConfig(path)).logs.user_spike.window, 900_000);
    await Deno.writeTextFile(
      path,
      JSON.stringify({ logs: { user_spike: { window: "15m", enabled: false } } }),
    );
    await loadDetectorRules(path, 600_000);
    // The defaults fit the default DETECTOR_REBUILD_WINDOW (10m).
    assert.ok(rebuildWindowProblem(DEFAULT_RULES, 600_000) === null);
    assert.match(
      rebuildWindowProblem(DEFAULT_RULES, 240_000)!,
      /^metrics\.cpu_sustained\.window: must be at most DETECTOR_REBUILD_WINDOW \(window 5m, DETECTOR_REBUILD_WINDOW 4m\)/,
    );
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("DETECTOR_IO_TIMEOUT is at most DETECTOR_LEASE_TTL: a stalled write must not outlast the lease", () => {
  // Both were 10s: one write stalled to its timeout let another instance take the partition over
  // while it could still commit, and store the batch's anomalies a second time.
  const d = loadDetectorConfig({});
  assert.ok(d.DETECTOR_IO_TIMEOUT < d.DETECTOR_LEASE_TTL, `${d.DETECTOR_IO_TIMEOUT}`);
  assert.equal(d.DETECTOR_IO_TIMEOUT, 5000);
  // Unset, it follows the TTL: half of it, at most 10s.
  assert.equal(loadDetectorConfig({ DETECTOR_LEASE_TTL: "1s" }).DETECTOR_IO_TIMEOUT, 500);
  assert.equal(loadDetectorConfig({ DETECTOR_LEASE_TTL: "1m" }).DETECTOR_IO_TIMEOUT, 10_000);
  // Set equal to it (the old default, spelled out in a manifest): still accepted on upgrade.
  const equal = { DETECTOR_LEASE_TTL: "10s", DETECTOR_IO_TIMEOUT: "10s" };
  assert.equal(loadDetectorConfig(equal).DETECTOR_IO_TIMEOUT, 10_000);
  for (const [ttl, io] of [["10s", "11s"], ["10s", "30s"], ["1s", "5s"]]) {
    assert.throws(
      () => loadDetectorConfig({ DETECTOR_LEASE_TTL: ttl, DETECTOR_IO_TIMEOUT: io }),
      (e: Error) =>
        e.name === "ConfigError" &&
        e.message.startsWith(
          `Cannot start detector: DETECTOR_IO_TIMEOUT must not be longer than DETECTOR_LEASE_TTL (${ttl}; unset, it is half of it): a write stalled`,
        ) && !e.message.includes("\n"),
      `${ttl} ${io}`,
    );
  }
  assert.equal(
    loadDetectorConfig({ DETECTOR_LEASE_TTL: "10s", DETECTOR_IO_TIMEOUT: "9s" })
      .DETECTOR_IO_TIMEOUT,
    9000,
  );
});
