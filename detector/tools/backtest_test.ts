import assert from "node:assert/strict";
import { formatSummary, parseArgs, parseTimestamp, runBacktest, scoreCsv } from "./backtest.ts";
import { createStatsEngine } from "../core/score_engine.ts";
import { parseCsv } from "@vigil/shared/csv";
import { timestampSchema } from "@vigil/shared/schemas/event";
import { dailySeries } from "./testing/series.ts";

function csvOf(ts: number[], values: number[]): string {
  const rows = ts.map((t, i) =>
    `${new Date(t).toISOString().replace("T", " ").slice(0, 19)},${values[i]}`
  );
  return ["timestamp,value", ...rows].join("\n") + "\n";
}

Deno.test("parseTimestamp reads NAB, ISO and epoch timestamps as UTC", () => {
  assert.equal(parseTimestamp("2024-01-01 00:05:00"), Date.UTC(2024, 0, 1, 0, 5));
  assert.equal(parseTimestamp("2024-01-01T00:05:00+01:00"), Date.UTC(2023, 11, 31, 23, 5));
  assert.equal(parseTimestamp("1700000000"), 1_700_000_000_000);
  assert.equal(parseTimestamp("1700000000000"), 1_700_000_000_000);
  assert.ok(Number.isNaN(parseTimestamp("yesterday")));
});

Deno.test("parseArgs needs an input and --out", () => {
  assert.deepEqual(parseArgs(["data", "--out", "o"]), { input: "data", out: "o" });
  assert.deepEqual(parseArgs(["--out=o", "data"]), { input: "data", out: "o" });
  assert.throws(() => parseArgs(["data"]), /need an input and --out/);
  assert.throws(() => parseArgs(["data", "--out", "o", "--fast"]), /unknown option --fast/);
});

Deno.test("scoreCsv scores like the detector's engine, one row per input row", () => {
  const { ts, values } = dailySeries({ points: 1500, seed: 2 });
  values[1200] = 200;
  const text = csvOf(ts, values).replace(/,([^,\n]*)\n(?=[^\n]*\n[^\n]*\n$)/, ",\n"); // one empty value
  const r = scoreCsv(text, "gen.csv");
  const rows = r.csv.trim().split("\n");
  assert.equal(rows[0], "timestamp,value,anomaly_score");
  assert.equal(rows.length, 1501);
  assert.equal(r.points, 1500);
  assert.equal(r.missing, 1);
  const engine = createStatsEngine();
  const s = engine.create();
  const input = text.trim().split("\n").slice(1);
  input.forEach((line, i) => {
    const [t, v] = line.split(",");
    const want = engine.update(s, parseTimestamp(t!), v === "" ? NaN : Number(v)).score;
    assert.equal(Number(rows[i + 1]!.split(",")[2]), want, `row ${i + 1}`);
  });
  assert.ok(r.alarms >= 1 && r.maxScore === 1);
  assert.throws(() => scoreCsv("time,value\n1,2\n"), /header needs timestamp and value/);
  assert.throws(() => scoreCsv("timestamp,value\nnope,2\n"), /bad timestamp/);
});

Deno.test("runBacktest writes the NAB layout and a summary", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/in/catA`, { recursive: true });
    const { ts, values } = dailySeries({ points: 400, seed: 3 });
    await Deno.writeTextFile(`${dir}/in/catA/one.csv`, csvOf(ts, values));
    const summary = await runBacktest(`${dir}/in`, `${dir}/out`);
    assert.equal(summary.files.length, 1);
    assert.equal(summary.points, 400);
    const out = await Deno.readTextFile(`${dir}/out/catA/vigil_one.csv`);
    assert.equal(out.trim().split("\n").length, 401);
    const json = JSON.parse(await Deno.readTextFile(`${dir}/out/summary.json`));
    assert.equal(json.files[0].category, "catA");
    assert.equal(json.config.windowSize, 288);
    await Deno.mkdir(`${dir}/empty`);
    await assert.rejects(runBacktest(`${dir}/empty`, `${dir}/x`), /no \.csv files/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scoreCsv() reads a spreadsheet's export: byte-order mark, quoted header, CRLF", () => {
  // Before: the header's first cell was "\uFEFFtimestamp", and the file was refused.
  const r = scoreCsv(
    '\uFEFF"timestamp","value"\r\n2025-01-01 00:00:00,1\r\n2025-01-01 00:05:00,"2"\r\n',
  );
  assert.equal(r.points, 2);
  assert.equal(r.missing, 0);
});

Deno.test("scoreCsv() writes a well-formed CSV when a cell holds a comma or a quote", () => {
  // Before: cells were written back raw, so `"1,5"` made a row of four cells.
  const r = scoreCsv('timestamp,value\n2025-01-01 00:00:00,"1,5"\n"2025-01-01 00:05:00",2\n');
  const rows = parseCsv(r.csv);
  assert.deepEqual(rows.map((row) => row.cells.length), [3, 3, 3]);
  assert.deepEqual(rows[1]!.cells.slice(0, 2), ["2025-01-01 00:00:00", "1,5"]);
  assert.equal(r.missing, 1);
});

Deno.test("scoreCsv() finds the timestamp and value columns in any case, as the replay does", () => {
  // Before: "Timestamp,Value" (a spreadsheet's export) was refused.
  const r = scoreCsv("Timestamp,VALUE\n2025-01-01 00:00:00,1\n");
  assert.equal(r.points, 1);
});

Deno.test("parseTimestamp refuses what the event schema refuses, instead of guessing", () => {
  // Before: Date.parse rolled Feb 30 over to Mar 2 and read "Jan 1 2025" in the local zone.
  for (const bad of ["2025-02-30 00:00:00", "Jan 1 2025", "2025/01/01 00:00:00", "-1"]) {
    assert.ok(Number.isNaN(parseTimestamp(bad)), bad);
  }
  // A daily series' date alone is midnight UTC.
  assert.equal(parseTimestamp("2025-01-02"), Date.UTC(2025, 0, 2));
  assert.equal(parseTimestamp("2025-01-02T03:04:05+0200"), Date.UTC(2025, 0, 2, 1, 4, 5));
});

Deno.test("runBacktest tells a file whose rows go back in time (a newest-first export)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { ts, values } = dailySeries({ points: 50, seed: 4 });
    const [head, ...rows] = csvOf(ts, values).trim().split("\n");
    await Deno.writeTextFile(`${dir}/desc.csv`, [head, ...rows.reverse()].join("\n") + "\n");
    const summary = await runBacktest(`${dir}/desc.csv`, `${dir}/out`);
    // Before: scored bottom to top without a word, the series running backwards in time.
    assert.equal(summary.files[0]!.backwards, 49);
    assert.match(formatSummary(summary), /49 rows earlier than the row before .*sort it by time/);
    assert.equal(scoreCsv(csvOf(ts, values)).backwards, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseTimestamp's fast path for NAB's form answers as the event schema does", () => {
  for (const y of ["1969", "1970", "2025", "2200", "2201"]) {
    for (const md of ["00-01", "01-00", "02-28", "02-29", "02-30", "04-31", "12-31", "13-01"]) {
      for (const hms of ["00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60"]) {
        for (const text of [`${y}-${md} ${hms}`, `${y}-${md}T${hms}`]) {
          const r = timestampSchema.safeParse(text);
          assert.ok(Object.is(parseTimestamp(text), r.success ? Date.parse(r.data) : NaN), text);
        }
      }
    }
  }
});
