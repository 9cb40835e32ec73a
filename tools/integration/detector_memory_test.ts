/**
 * The detector's memory under load, in CI: `deno task bench:memory` for 60 s
 * (5,000 events/s over 100,000 entities, the real detector process as
 * `deno task detector` runs it) must keep the peak RSS under 290 MB.
 *
 * The full bound (issue 13: ≤ 300 MB for 10 minutes) is the benchmark's; a
 * minute is what CI affords, and its own bound is set between what the
 * detector needs now and what it needed before checkpoint text was kept out
 * of the old generation, so that regression fails here. Both were measured
 * alone (235–245 MB at 60 s with the task's 32 MB semi-spaces, against
 * ~285 MB with semi-spaces of only 8 MB, docs/benchmarks.md#detector-memory);
 * inside the whole parallel suite, another test file running beside it, the
 * detector falls behind more often and holds larger batches: 277 MB once
 * (2026-12-06), hence 290.
 */
import assert from "node:assert/strict";
import { runDeno } from "../testing/services.ts";

const LIMIT_MB = 290;

Deno.test({
  name: "the detector stays under 290 MB RSS for 60 s at 5,000 events/s over 100,000 entities",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const out = await Deno.makeTempFile({ suffix: ".json" });
  try {
    const run = await runDeno([
      "run",
      "--allow-all",
      "tools/bench/detector_memory.ts",
      "--duration=60s",
      `--limit=${LIMIT_MB}`,
      `--out=${out}`,
    ]);
    const log = run.text;
    const text = await Deno.readTextFile(out);
    assert.ok(text !== "", `the benchmark wrote no report (exit ${run.code})\n${log}`);
    const report = JSON.parse(text) as {
      pass: boolean;
      load: { achieved_rate: number; drained_after_s: number };
      detector: { peak_rss_mb: number; rss_mb_start: number };
      samples: { state: Record<string, number> }[];
    };
    const state = report.samples.at(-1)?.state ?? {};
    // The load really ran and filled the windows (else a low RSS proves nothing).
    assert.ok(report.load.achieved_rate >= 4500, `load ${report.load.achieved_rate}/s\n${log}`);
    assert.ok((state.user_spike ?? 0) >= 90_000, `users in windows: ${JSON.stringify(state)}`);
    assert.ok(report.load.drained_after_s < 60, "the detector kept up");
    assert.ok(
      report.detector.peak_rss_mb <= LIMIT_MB,
      `peak RSS ${report.detector.peak_rss_mb} MB > ${LIMIT_MB} MB\n${log}`,
    );
    assert.equal(report.pass, true);
    assert.equal(run.code, 0, log);
  } finally {
    await Deno.remove(out).catch(() => {});
  }
});
