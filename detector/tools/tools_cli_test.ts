import assert from "node:assert/strict";

const dir = new URL(".", import.meta.url).pathname;

async function run(tool: string, args: string[], allow = ["--allow-read", "--allow-write"]) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...allow, `${dir}${tool}`, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

Deno.test("the offline tools answer a bad input with one line and exit 1, never a stack trace", async (t) => {
  const json = await Deno.makeTempFile({ suffix: ".json" });
  const csv = await Deno.makeTempFile({ suffix: ".csv" });
  try {
    await Deno.writeTextFile(json, "{}");
    await Deno.writeTextFile(csv, "timestamp,value\n2025-01-01 00:00:00,1\n");
    const cases: [string, string[], RegExp][] = [
      ["nab_report.ts", ["/nonexistent.json"], /^nab_report failed: .*nonexistent\.json/],
      ["nab_report.ts", [csv], /^nab_report failed: .*not valid JSON/],
      ["nab_report.ts", [json], /^nab_report failed: .*not what nab_score\.py --json writes/],
      ["delay_report.ts", ["/nonexistent", "/nonexistent"], /^delay_report failed: .*labels\.json/],
      ["ablation.ts", [], /^Cannot parse arguments: need an input and --out/],
      ["ablation.ts", ["/nonexistent", "--out", "/tmp/x"], /^ablation failed: .*nonexistent/],
      ["loco.ts", ["/nonexistent"], /^validate:stats failed: .*nonexistent/],
    ];
    for (const [tool, args, re] of cases) {
      await t.step(`${tool} ${args.join(" ")}`, async () => {
        const r = await run(tool, args);
        // Before: "error: Uncaught (in promise) NotFound: …" and the stack.
        assert.doesNotMatch(r.stderr, /Uncaught|\n\s+at /, r.stderr);
        assert.match(r.stderr, re);
        assert.equal(r.code, args.length ? 1 : 2);
      });
    }
  } finally {
    await Deno.remove(json);
    await Deno.remove(csv);
  }
});

Deno.test("deno task validate:stats --out outside test-output/ says where it may write", async () => {
  const r = await run("loco.ts", ["/tmp", "--out", "/tmp/loco"], [
    "--allow-read",
    "--allow-write=test-output",
  ]);
  // Before: "Uncaught NotCapable: … run again with the --allow-write flag", after a first backtest.
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^validate:stats failed: cannot write \/tmp\/loco: .*under test-output\//);
});

Deno.test("deno task validate:stats --help prints the usage and exits 0", async () => {
  const r = await run("loco.ts", ["--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^usage: deno task validate:stats <NAB data folder>/);
});

Deno.test("false_alarms.ts counts the alarms on clean series, by reason and by segment", async () => {
  const bad = await run("false_alarms.ts", ["--seeds", "x"], []);
  assert.match(bad.stderr, /^false_alarms failed: seeds: /);
  assert.equal(bad.code, 1);
  const r = await run(
    "false_alarms.ts",
    ["--points", "12000", "--seeds", "2", "--amplitude", "0"],
    [],
  );
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  assert.deepEqual([out.points, out.seeds, out.amplitude, out.noise], [12000, 2, 0, 2]);
  assert.ok(out.alarms > 0, "noise alone raises some over 24,000 points");
  assert.equal(sum(Object.values(out.by_reason) as number[]), out.alarms);
  assert.equal(out.per_5000_points.length, 3);
  assert.equal(sum(out.per_5000_points), out.alarms);
  assert.equal(out.points_per_alarm, Math.round(24000 / out.alarms));
});
