import assert from "node:assert/strict";
import { parseCli, USAGE } from "./cli.ts";
import { DEFAULT_USERS } from "./generator.ts";
import { SCENARIOS } from "./scenario_types.ts";

const seed = () => 1234;

function options(args: string[]) {
  const r = parseCli(args, seed);
  assert.equal(r.help, false);
  if (r.help) throw new Error("unreachable");
  return r.options;
}

Deno.test("parseCli() applies the defaults", () => {
  assert.deepEqual(options([]), {
    rate: 200,
    scenarios: [],
    scenarioEveryMs: 30_000,
    seed: 1234,
    users: DEFAULT_USERS,
  });
});

Deno.test("parseCli() reads every generator flag", () => {
  assert.deepEqual(
    options([
      "--rate=max",
      "--count",
      "3000",
      "--duration",
      "30s",
      "--scenario",
      "error_burst, latency_spike",
      "--scenario-every",
      "1m",
      "--seed",
      "7",
      "--users",
      "500",
    ]),
    {
      rate: "max",
      count: 3000,
      durationMs: 30_000,
      scenarios: ["error_burst", "latency_spike"],
      scenarioEveryMs: 60_000,
      seed: 7,
      users: 500,
    },
  );
  assert.deepEqual(options(["--scenario", "all"]).scenarios, [...SCENARIOS]);
});

Deno.test("parseCli() grows the user pool with the rate", () => {
  assert.equal(options(["--rate", "1000"]).users, 75_001);
  assert.equal(options(["--rate", "1000", "--users", "10"]).users, 10);
});

Deno.test("parseCli() caps the rate's user pool at the --users maximum", () => {
  // --rate 1000000 is accepted; its pool of 75,000,001 user ids ran the
  // producer out of memory (4 GB) before it sent anything.
  assert.equal(options(["--rate", "1000000"]).users, 10_000_000);
});

Deno.test("parseCli() reads replay flags with defaults", () => {
  assert.deepEqual(options(["--replay", "data.csv"]).replay, {
    file: "data.csv",
    speed: 60,
    service: "replay",
    field: "cpu",
    timestamps: "data",
  });
  assert.deepEqual(
    options([
      "--replay",
      "x.csv",
      "--speed",
      "max",
      "--service",
      "ec2",
      "--field",
      "latency_ms",
      "--timestamps",
      "emit",
    ]).replay,
    { file: "x.csv", speed: "max", service: "ec2", field: "latency_ms", timestamps: "emit" },
  );
  assert.equal(options(["--replay", "x.csv", "--service", " ec2 "]).replay?.service, "ec2");
});

Deno.test("parseCli() returns help for --help and -h", () => {
  assert.deepEqual(parseCli(["--help"], seed), { help: true });
  assert.deepEqual(parseCli(["-h"], seed), { help: true });
  assert.match(USAGE, /--scenario-every/);
});

Deno.test("parseCli() rejects bad flags with a message naming them", async (t) => {
  const cases: [string[], RegExp][] = [
    [["--rate", "fast"], /--rate/],
    [["--rate", "0"], /--rate: must be a number of events per second/],
    [["--rate=-5"], /--rate: must be a number of events per second/],
    [["--count", "-1"], /--count/],
    [["--count", "1.5"], /--count: must be a whole number from 1 to/],
    [["--count", "0"], /--count: must be a whole number from 1 to/],
    [["--users", "1e9"], /--users: must be a whole number from 1 to 10000000/],
    // Before: Number() read these as 16, 1000 and 2.
    [
      ["--count", "0x10"],
      /^Cannot parse arguments: --count: must be a whole number from 1 to \d+$/,
    ],
    [["--rate", "1e3"], /^Cannot parse arguments: --rate: must be a number of events per second/],
    [["--replay", "a.csv", "--speed", "0b10"], /--speed: must be a positive speed factor or max/],
    [["--seed", "1.5"], /--seed: must be a whole number from 0 to 4294967295/],
    [["--replay", "a.csv", "--speed=-1"], /--speed: must be a positive speed factor or max/],
    [["--duration", "soon"], /--duration/],
    // Before: 60 ms, the run stopped before it sent anything.
    [["--duration", "60"], /--duration: needs a unit \(e\.g\. 500ms, 30s, 5m, 1h\)/],
    [["--scenario-every", "10"], /--scenario-every: needs a unit/],
    [["--scenario", "meteor"], /unknown scenario "meteor"/],
    [["--speed", "2"], /--speed needs --replay/],
    [["--replay", "a.csv", "--field", "memory"], /--field/],
    // The event schema's rule for service: every replayed reading would be dead-lettered.
    [
      ["--replay", "a.csv", "--service", "a\u0001b"],
      /--service: control character U\+0001 at position 1 is not allowed/,
    ],
    [["--replay", "a.csv", "--service", "a\u2028b"], /--service: line separator U\+2028/],
    [["--replay", "a.csv", "--service", " "], /--service: Too small/],
    [["--bogus"], /Unknown option '--bogus'/],
    [["extra"], /positional/],
    // Before: an empty seed was read as seed 0, and these ran with no scenario or all but the typo.
    [["--seed", ""], /--seed: must be a whole number from 0 to 4294967295/],
    [["--seed="], /--seed: must be a whole number from 0 to 4294967295/],
    [["--scenario", ""], /--scenario: names no scenario/],
    [["--scenario", " , "], /--scenario: names no scenario/],
    [["--scenario", "all,meteor"], /unknown scenario "meteor"/],
    // Before: ignored, the replay paced by --speed as if --rate were not there.
    [["--replay", "a.csv", "--rate", "5"], /--rate does not apply to --replay/],
    // Before: "--count: must be …; count: must be …", one flag's message twice.
    [
      ["--count", "9007199254740993"],
      /^Cannot parse arguments: --count: must be a whole number from 1 to \d+$/,
    ],
  ];
  for (const [args, re] of cases) {
    await t.step(args.join(" "), () => {
      assert.throws(
        () => parseCli(args, seed),
        (e: unknown) =>
          e instanceof TypeError && /^Cannot parse arguments: /.test(e.message) &&
          re.test(e.message),
      );
    });
  }
});
