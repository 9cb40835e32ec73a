import assert from "node:assert/strict";
import { createLogger } from "@vigil/shared/log";
import { Registry } from "@vigil/shared/metrics";
import { sampleValue } from "@vigil/tools/testing/metrics";
import { waitFor } from "@vigil/tools/testing/wait";
import { DEFAULT_RULES, loadRulesConfig, type RulesConfig } from "../core/rules_config.ts";
import { rulesWith } from "../tools/testing/rules.ts";
import { createRulesReloader, rulesHash } from "./rules_reload.ts";
import { loadDetectorRules } from "../config.ts";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    service: "test",
    level: "debug",
    write: (l) => lines.push(JSON.parse(l)),
  });
  return { lines, log };
}

Deno.test("RulesReloader.reload() applies new rules, skips equal ones, rejects bad ones", async () => {
  let next: RulesConfig | Error = DEFAULT_RULES;
  const applied: RulesConfig[] = [];
  const { lines, log } = capture();
  const registry = new Registry();
  let t = Date.UTC(2026, 0, 1);
  const r = createRulesReloader({
    path: "rules.json",
    initial: DEFAULT_RULES,
    apply: (rules) => applied.push(rules),
    log,
    registry,
    now: () => t,
    load: () => next instanceof Error ? Promise.reject(next) : Promise.resolve(next),
    sighup: false,
  });
  const v0 = r.version();
  assert.equal(v0.hash, rulesHash(DEFAULT_RULES));
  assert.equal(v0.loaded_at, "2026-01-01T00:00:00.000Z");

  assert.equal(await r.reload("SIGHUP"), "unchanged");
  assert.equal(applied.length, 0);

  t += 60_000;
  next = rulesWith({ logs: { error_spike: { threshold: 5 } } });
  assert.equal(await r.reload("file changed"), "applied");
  assert.equal(applied.length, 1);
  assert.equal(r.current().logs.error_spike.threshold, 5);
  assert.notEqual(r.version().hash, v0.hash);
  assert.equal(r.version().loaded_at, "2026-01-01T00:01:00.000Z");

  next = new TypeError("Cannot load rules file rules.json: logs.error_spike.threshold: too small");
  const before = r.version();
  assert.equal(await r.reload("SIGHUP"), "rejected");
  assert.equal(applied.length, 1, "nothing applied");
  assert.equal(r.current().logs.error_spike.threshold, 5, "the rules in force keep running");
  assert.deepEqual(r.version(), before);
  assert.match(r.lastRejection()!.reason, /threshold: too small/);
  assert.equal(r.lastRejection()!.trigger, "SIGHUP");
  const logged = lines.find((l) =>
    l.msg === "rules file rejected: the rules in force keep running"
  );
  assert.ok(logged, "the rejection is logged");
  assert.match(String(logged.reason), /threshold: too small/);
  assert.equal(logged.level, "error");

  assert.equal(
    await sampleValue(registry.counter("vigil_detector_rules_reloads_total", ""), {
      result: "rejected",
    }),
    1,
  );
  assert.equal(
    await sampleValue(registry.counter("vigil_detector_rules_reloads_total", ""), {
      result: "applied",
    }),
    1,
  );
});

Deno.test("RulesReloader.reload() clears the rejection (and the rules health warning) once the file is good again, also unchanged", async () => {
  let next: RulesConfig | Error = DEFAULT_RULES;
  const r = createRulesReloader({
    path: "rules.json",
    initial: DEFAULT_RULES,
    apply: () => {},
    log: capture().log,
    load: () => next instanceof Error ? Promise.reject(next) : Promise.resolve(next),
    sighup: false,
  });
  assert.equal(r.health(), true);
  next = new TypeError("Cannot load rules file rules.json: logs: Unrecognized key");
  assert.equal(await r.reload("file changed"), "rejected");
  assert.ok(r.lastRejection());
  // /health warns: a restart (a crash's) would refuse the file and stop the detector.
  const health = r.health() as Record<string, unknown>;
  assert.equal(health.status, "warn");
  assert.match(String(health.problem), /a restart would refuse the file/);
  assert.equal(health.reason, "Cannot load rules file rules.json: logs: Unrecognized key");
  // The edit reverted (git checkout): the file read is the rules in force, nothing is rejected.
  next = DEFAULT_RULES;
  assert.equal(await r.reload("file changed"), "unchanged");
  assert.equal(r.lastRejection(), null, "GET /api/rules no longer shows the reverted file");
  assert.equal(r.health(), true);
});

Deno.test("rulesHash() ignores key order and follows every value", () => {
  const a = rulesWith({ transactions: { amount_high: { per_currency: { EUR: 5, USD: 6 } } } });
  const b = rulesWith({ transactions: { amount_high: { per_currency: { USD: 6, EUR: 5 } } } });
  assert.equal(rulesHash(a), rulesHash(b));
  assert.notEqual(rulesHash(a), rulesHash(rulesWith({ cooldown: "6m" })));
  assert.notEqual(rulesHash(a), rulesHash(DEFAULT_RULES));
});

Deno.test("RulesReloader.reload() rejects a file with a misspelt key or a min_span past its window", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/rules.json`;
  try {
    await Deno.writeTextFile(path, JSON.stringify({ logs: { error_spike: { threshold: 5 } } }));
    const initial = await loadRulesConfig(path);
    const applied: RulesConfig[] = [];
    const { log } = capture();
    const r = createRulesReloader({
      path,
      initial,
      apply: (rules) => applied.push(rules),
      log,
      sighup: false,
    });
    const before = r.version();
    for (
      const [rules, reason] of [
        // A misspelt rule or setting would be ignored, its defaults silently in force.
        [{ logs: { error_spik: { threshold: 3 } } }, /logs: Unrecognized key: "error_spik"/],
        [
          { logs: { error_spike: { treshold: 3 } } },
          /logs\.error_spike: Unrecognized key: "treshold"/,
        ],
        [
          { metrics: { cpu_sustained: { window: "5m", min_span: "10m" } } },
          /metrics\.cpu_sustained\.min_span: must be shorter than window \(min_span 10m, window 5m\)/,
        ],
        // A cooldown of 0 alerted on every matching event; a z of -1 on every ordinary minute.
        [{ cooldown: 0 }, /cooldown: must be at least 1s/],
        [
          { transactions: { status_zscore: { warning: -1 } } },
          /transactions\.status_zscore\.warning: must be above 0/,
        ],
      ] as const
    ) {
      await Deno.writeTextFile(path, JSON.stringify(rules));
      assert.equal(await r.reload("SIGHUP"), "rejected", JSON.stringify(rules));
      assert.match(r.lastRejection()!.reason, reason);
      assert.ok(r.lastRejection()!.reason.startsWith(`Cannot load rules file ${path}: `));
      assert.deepEqual(r.version(), before, "the rules in force keep running");
      assert.equal(r.current().logs.error_spike.threshold, 5);
    }
    assert.equal(applied.length, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RulesReloader.reload() with the detector's loader refuses a window DETECTOR_REBUILD_WINDOW cannot rebuild", async () => {
  // Taken while running, such a file stopped the detector at its next start.
  const dir = await Deno.makeTempDir();
  const path = `${dir}/rules.json`;
  try {
    await Deno.writeTextFile(path, "{}");
    const applied: RulesConfig[] = [];
    const r = createRulesReloader({
      path,
      initial: await loadDetectorRules(path, 600_000),
      load: (p) => loadDetectorRules(p, 600_000),
      apply: (rules) => applied.push(rules),
      log: capture().log,
      sighup: false,
    });
    await Deno.writeTextFile(path, JSON.stringify({ logs: { error_spike: { window: "30m" } } }));
    assert.equal(await r.reload("SIGHUP"), "rejected");
    assert.match(
      r.lastRejection()!.reason,
      /logs\.error_spike\.window: must be at most DETECTOR_REBUILD_WINDOW \(window 30m, DETECTOR_REBUILD_WINDOW 10m\)/,
    );
    assert.equal(r.current().logs.error_spike.window, 180_000, "the rules in force keep running");
    await Deno.writeTextFile(path, JSON.stringify({ logs: { error_spike: { window: "10m" } } }));
    assert.equal(await r.reload("SIGHUP"), "applied");
    assert.equal(applied.length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * A reloader watching `rules.json` in a new folder, with a short debounce; `layout` lays the
 * folder out first (default: `rules.json` holding `{}`).
 */
async function watchedFile(
  layout: (dir: string) => Promise<void> = (dir) => Deno.writeTextFile(`${dir}/rules.json`, "{}"),
) {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/rules.json`;
  await layout(dir);
  const { lines, log } = capture();
  const r = createRulesReloader({
    path,
    initial: DEFAULT_RULES,
    apply: () => {},
    log,
    debounceMs: 50,
    sighup: false,
  });
  const stop = new AbortController();
  const watching = r.watch(stop.signal);
  return {
    dir,
    path,
    r,
    lines,
    async close() {
      stop.abort();
      await watching;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("RulesReloader.watch() reloads on in-place writes and on a file renamed over it", async () => {
  const { dir, path, r, close } = await watchedFile();
  try {
    await new Promise((ok) => setTimeout(ok, 100));
    await Deno.writeTextFile(path, JSON.stringify({ cooldown: "1m" }));
    await waitFor(() => r.current().cooldown === 60_000, { timeoutMs: 5000, what: "write" });

    // Saved by renaming a new file over the old one: the watch follows the new file.
    await Deno.writeTextFile(`${dir}/tmp.json`, JSON.stringify({ cooldown: "2m" }));
    await Deno.rename(`${dir}/tmp.json`, path);
    await waitFor(() => r.current().cooldown === 120_000, { timeoutMs: 5000, what: "rename" });

    await Deno.writeTextFile(path, "{ not json");
    await waitFor(() => r.lastRejection() !== null, { timeoutMs: 5000, what: "rejection" });
    assert.match(r.lastRejection()!.reason, /not JSON/);
    assert.equal(r.current().cooldown, 120_000);

    await Deno.writeTextFile(path, JSON.stringify({ cooldown: "3m" }));
    await waitFor(() => r.current().cooldown === 180_000, { timeoutMs: 5000, what: "after" });
    assert.equal(r.lastRejection(), null, "a good file clears the rejection");
  } finally {
    await close();
  }
});

Deno.test("RulesReloader.watch() follows a file replaced by git checkout quietly, warns when it stays away", async () => {
  const { path, r, lines, close } = await watchedFile();
  const warned = () =>
    lines.filter((l) =>
      l.msg === "cannot watch the rules file: reloads on SIGHUP only until it is back"
    );
  try {
    await new Promise((ok) => setTimeout(ok, 100));
    // git checkout, some editors: the file is removed, then written again a moment later.
    await Deno.remove(path);
    await new Promise((ok) => setTimeout(ok, 20));
    await Deno.writeTextFile(path, JSON.stringify({ cooldown: "4m" }));
    await waitFor(() => r.current().cooldown === 240_000, { timeoutMs: 5000, what: "replaced" });
    await new Promise((ok) => setTimeout(ok, 1500));
    assert.deepEqual(warned(), [], "no warning for a replaced file");
    await Deno.writeTextFile(path, JSON.stringify({ cooldown: "5m" }));
    await waitFor(() => r.current().cooldown === 300_000, {
      timeoutMs: 5000,
      what: "watched again",
    });

    // Removed for a while: one warning, then read again when it is back.
    await Deno.remove(path);
    await waitFor(() => warned().length === 1, { timeoutMs: 5000, what: "warning" });
    await new Promise((ok) => setTimeout(ok, 2500));
    assert.equal(warned().length, 1, "warned once");
    await Deno.writeTextFile(path, JSON.stringify({ cooldown: "6m" }));
    await waitFor(() => r.current().cooldown === 360_000, { timeoutMs: 5000, what: "back" });
  } finally {
    await close();
  }
});

Deno.test("RulesReloader.watch() sees a Kubernetes ConfigMap update (the ..data link swapped, the old version removed)", async () => {
  // The kubelet's layout: rules.json -> ..data/rules.json, ..data -> ..<version>.
  const version = async (dir: string, name: string, rules: unknown) => {
    await Deno.mkdir(`${dir}/${name}`);
    await Deno.writeTextFile(`${dir}/${name}/rules.json`, JSON.stringify(rules));
  };
  const { dir, r, close } = await watchedFile(async (dir) => {
    await version(dir, "..v1", {});
    await Deno.symlink("..v1", `${dir}/..data`);
    await Deno.symlink("..data/rules.json", `${dir}/rules.json`);
  });
  try {
    await new Promise((ok) => setTimeout(ok, 100));
    for (const [v, old, cooldown] of [["..v2", "..v1", "1m"], ["..v3", "..v2", "2m"]] as const) {
      // The kubelet's atomic update: new version, link renamed over ..data, old version removed.
      await version(dir, v, { cooldown });
      await Deno.symlink(v, `${dir}/..data_tmp`);
      await Deno.rename(`${dir}/..data_tmp`, `${dir}/..data`);
      await Deno.remove(`${dir}/${old}`, { recursive: true });
      await waitFor(() => r.current().cooldown === (cooldown === "1m" ? 60_000 : 120_000), {
        timeoutMs: 5000,
        what: `ConfigMap update to ${v}`,
      });
    }
  } finally {
    await close();
  }
});

Deno.test("RulesReloader.watch() follows a symlinked rules file pointed elsewhere or replaced by a plain file", async () => {
  const { dir, path, r, close } = await watchedFile(async (dir) => {
    await Deno.writeTextFile(`${dir}/a.json`, "{}");
    await Deno.symlink("a.json", `${dir}/rules.json`);
  });
  try {
    await new Promise((ok) => setTimeout(ok, 100));
    // `ln -sfn b.json rules.json`: the old target stays, so no watched file changes.
    await Deno.writeTextFile(`${dir}/b.json`, JSON.stringify({ cooldown: "1m" }));
    await Deno.symlink("b.json", `${dir}/tmp`);
    await Deno.rename(`${dir}/tmp`, path);
    await waitFor(() => r.current().cooldown === 60_000, { timeoutMs: 5000, what: "relinked" });
    // The new target edited in place.
    await Deno.writeTextFile(`${dir}/b.json`, JSON.stringify({ cooldown: "2m" }));
    await waitFor(() => r.current().cooldown === 120_000, { timeoutMs: 5000, what: "edited" });
    // The link replaced by a plain file (the targets stay), then that file edited in place.
    await Deno.remove(path);
    await Deno.writeTextFile(path, JSON.stringify({ cooldown: "3m" }));
    await waitFor(() => r.current().cooldown === 180_000, { timeoutMs: 5000, what: "plain" });
    await Deno.writeTextFile(path, JSON.stringify({ cooldown: "4m" }));
    await waitFor(() => r.current().cooldown === 240_000, { timeoutMs: 5000, what: "plain edit" });
  } finally {
    await close();
  }
});
