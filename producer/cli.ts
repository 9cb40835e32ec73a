/**
 * Command-line flags of `deno task producer`, parsed with `node:util`
 * `parseArgs` and validated with zod into {@link ProducerOptions}.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { decimalVar, flagDurationVar } from "@vigil/shared/config";
import { eventName } from "@vigil/shared/schemas/event";
import type { Replay } from "./replay_source.ts";
import type { ReplayOptions } from "./replay.ts";
import { DEFAULT_USERS, minUsersForRate } from "./generator.ts";
import { type ScenarioName, SCENARIOS } from "./scenario_types.ts";

/** Replay settings (`--replay`). */
export interface ReplaySettings
  extends Required<Pick<ReplayOptions, "speed" | "service" | "field" | "timestamps">> {
  file: string;
  /** The file already opened and checked (`openReplay`); else it is read at the run's start. */
  data?: Replay;
}

/** What the producer does, from the command line. */
export interface ProducerOptions {
  /** Normal events per second, or as fast as possible. */
  rate: number | "max";
  /** Stop after this many normal (or replayed) events; scenario events come on top. */
  count?: number;
  /** Stop after this long. */
  durationMs?: number;
  /** Scenarios to inject, in rotation (empty: none). */
  scenarios: ScenarioName[];
  /** Inject the next scenario this often; 0 = each listed scenario once, at start. */
  scenarioEveryMs: number;
  seed: number;
  /** User pool size. */
  users: number;
  replay?: ReplaySettings;
}

/** Usage text for `--help`. */
export const USAGE = `Usage: deno task producer [options]

Generates logs, metrics and transactions into Kafka (topics logs, metrics,
transactions), optionally with labelled anomaly scenarios, or replays a CSV.

Options:
  --rate <n|max>          normal events per second (default 200; max = as fast as possible)
  --count <n>             stop after n events (scenario events come on top)
  --duration <d>          stop after d (e.g. 30s, 5m, 1h)
  --scenario <names>      comma-separated scenarios, or "all":
                          ${SCENARIOS.join(", ")}
  --scenario-every <d>    inject the next scenario every d (default 30s; 0 = each once at start)
  --seed <n>              PRNG seed (default random); same seed, same events
  --users <n>             user pool size, at most 10000000 (default max(${DEFAULT_USERS}, what
                          --rate needs), capped there)
  --replay <file.csv|->   replay "timestamp,value" or "timestamp,status,count" rows, or raw
                          transactions, one per row ("timestamp,status,amount,…");
                          - reads standard input
  --speed <n|max>         replay speed factor (default 60: one minute of data per second)
  --service <name>        service of replayed timestamp,value readings (default "replay")
  --field <cpu|latency_ms> metric field of replayed values (default cpu)
  --timestamps <data|emit> replayed event times: the data's own, shifted to now
                          (default), or the moment each is sent
  -h, --help              show this help

Environment: KAFKA_BROKERS, KAFKA_CLIENT_ID, PRODUCER_PORT (default 9101), LOG_LEVEL, …
`;

/** Largest user pool (`--users`, and the default a high `--rate` asks for: 75 M ids ran out of memory). */
const MAX_USERS = 10_000_000;

/** A whole number from 1 to `max`, said so when it is not. */
const positiveInt = (max: number) => {
  const error = `must be a whole number from 1 to ${max}`;
  return decimalVar(
    z.number({ error }).int({ error }).min(1, { error }).max(max, { error }),
    error,
  );
};
const RATE_ERROR = "must be a number of events per second (0 < n ≤ 1000000) or max";
const rateSchema = z.union([
  z.literal("max"),
  decimalVar(
    z.number().positive({ error: RATE_ERROR }).max(1_000_000, { error: RATE_ERROR }),
    RATE_ERROR,
  ),
], { error: RATE_ERROR });
const SPEED_ERROR = "must be a positive speed factor or max";
const SEED_ERROR = "must be a whole number from 0 to 4294967295";

const flagsSchema = z.object({
  rate: rateSchema.default(200),
  count: positiveInt(Number.MAX_SAFE_INTEGER).optional(),
  duration: flagDurationVar.pipe(z.number().positive()).optional(),
  scenario: z.string().optional(),
  "scenario-every": flagDurationVar.default(30_000),
  // Digits only: coerced, an empty `--seed=` was seed 0.
  seed: z.string().regex(/^\s*\d+\s*$/, { error: SEED_ERROR }).transform(Number)
    .pipe(z.number().max(0xffffffff, { error: SEED_ERROR })).optional(),
  users: positiveInt(MAX_USERS).optional(),
  replay: z.string().min(1).optional(),
  speed: z.union(
    [z.literal("max"), decimalVar(z.number().positive({ error: SPEED_ERROR }), SPEED_ERROR)],
    {
      error: SPEED_ERROR,
    },
  ).optional(),
  // The event schema's own rule for `service` (no control character, trimmed, 1..128): a name
  // it refuses would have every replayed reading dead-lettered by the bridge.
  service: eventName(128).optional(),
  field: z.enum(["cpu", "latency_ms"]).optional(),
  timestamps: z.enum(["data", "emit"]).optional(),
});

const STRING = { type: "string" } as const;

function parseScenarios(raw: string | undefined): ScenarioName[] {
  if (raw === undefined) return [];
  const names = raw.split(",").map((s) => s.trim()).filter(Boolean);
  const known = `(known: ${SCENARIOS.join(", ")}, all)`;
  // A typo beside "all" is told too, and an empty list is no silent "no scenario".
  if (names.length === 0) {
    throw new TypeError(`Cannot parse arguments: --scenario: names no scenario ${known}`);
  }
  const unknown = names.filter((n) => n !== "all" && !SCENARIOS.includes(n as ScenarioName));
  if (unknown.length) {
    throw new TypeError(`Cannot parse arguments: unknown scenario "${unknown[0]}" ${known}`);
  }
  if (names.includes("all")) return [...SCENARIOS];
  return names as ScenarioName[];
}

/** Result of {@link parseCli}. */
export type CliResult = { help: true } | { help: false; options: ProducerOptions };

/**
 * Parse the producer's command line.
 *
 * @param randomSeed supplies the seed when `--seed` is absent
 * @throws {TypeError} "Cannot parse arguments: …" naming the bad flag
 */
export function parseCli(args: string[], randomSeed: () => number): CliResult {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      // Every flag of the schema takes a value; `--help` is the one switch.
      options: {
        ...Object.fromEntries(Object.keys(flagsSchema.shape).map((f) => [f, STRING])),
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    throw new TypeError(`Cannot parse arguments: ${(error as Error).message}`);
  }
  if (values.help) return { help: true };
  const { help: _help, ...rest } = values;
  const parsed = flagsSchema.safeParse(rest);
  if (!parsed.success) {
    // One message per flag, each named as typed (`--count: …`), not twice for one flag.
    const byFlag = Map.groupBy(parsed.error.issues, (i) => i.path.join("."));
    const reason = [...byFlag].map(([flag, [first]]) => `--${flag}: ${first!.message}`).join("; ");
    throw new TypeError(`Cannot parse arguments: ${reason}`);
  }
  const f = parsed.data;
  if (f.replay === undefined) {
    for (const flag of ["speed", "service", "field", "timestamps"] as const) {
      if (f[flag] !== undefined) {
        throw new TypeError(`Cannot parse arguments: --${flag} needs --replay`);
      }
    }
  }
  if (f.replay !== undefined && rest.rate !== undefined) {
    throw new TypeError(
      "Cannot parse arguments: --rate does not apply to --replay (a replay is paced by --speed)",
    );
  }
  const rate = f.rate;
  const options: ProducerOptions = {
    rate,
    scenarios: parseScenarios(f.scenario),
    scenarioEveryMs: f["scenario-every"],
    seed: f.seed ?? (randomSeed() >>> 0),
    users: f.users ??
      (rate === "max"
        ? DEFAULT_USERS
        : Math.min(MAX_USERS, Math.max(DEFAULT_USERS, minUsersForRate(rate)))),
  };
  if (f.count !== undefined) options.count = f.count;
  if (f.duration !== undefined) options.durationMs = f.duration;
  if (f.replay !== undefined) {
    options.replay = {
      file: f.replay,
      speed: f.speed ?? 60,
      service: f.service ?? "replay",
      field: f.field ?? "cpu",
      timestamps: f.timestamps ?? "data",
    };
  }
  return { help: false, options };
}
