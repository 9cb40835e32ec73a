/**
 * `bench:pipeline` support: the real service processes (spawned with the
 * command line of their `deno task`, tools/testing/services.ts), an
 * isolated installation per run (a fresh key prefix and PostgreSQL database,
 * ops ports chosen by the OS) and the CPU time of each process, read from
 * `/proc/<pid>/stat` (user + system time of every thread of the process):
 * on a shared machine the CPU a process spent per event is what to trust,
 * not its wall-clock rate.
 *
 * @module
 */
import type postgres from "postgres";
import { createKeys, type Keys } from "@vigil/shared/keys";
import { createRedis, type Redis } from "@vigil/shared/redis";
import { deletePrefix, TEST_REDIS_URL } from "../testing/redis.ts";
import { createDatabase } from "../testing/pg.ts";
import { ROOT, type ServiceProcess, spawnService } from "../testing/services.ts";
import { cpuSecondsOf } from "./proc_stats.ts";

/**
 * Every process the benchmark started and has not stopped: a Ctrl-C stops
 * them too (the benchmark is a tool run once per process, so one set is fine).
 */
const running = new Set<ServiceProcess>();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    await Promise.allSettled([...running].map((p) => p.stop(3000)));
    Deno.exit(130);
  });
}

async function spawnTracked(...args: Parameters<typeof spawnService>): Promise<ServiceProcess> {
  const proc = await spawnService(...args);
  running.add(proc);
  proc.status.finally(() => running.delete(proc));
  return proc;
}

/** CPU seconds of each named process now. */
export function cpuSnapshot(procs: Iterable<{ name: string; pid: number }>): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of procs) {
    try {
      out.set(p.name, cpuSecondsOf(p.pid));
    } catch {
      // exited
    }
  }
  return out;
}

/**
 * The local Redis server as a process to measure (`INFO server` names its
 * pid), or nothing when it is not on this machine (a remote or cluster URL).
 */
export async function localRedisProcess(redis: Redis): Promise<{ name: string; pid: number }[]> {
  try {
    const pid = Number(/process_id:(\d+)/.exec(await redis.info("server"))?.[1]);
    if (!Number.isInteger(pid)) return [];
    cpuSecondsOf(pid); // readable here: a local process
    return [{ name: "redis", pid }];
  } catch {
    return [];
  }
}

/** CPU seconds used between two snapshots, per process name. */
export function cpuBetween(
  before: Map<string, number>,
  after: Map<string, number>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, end] of after) out[name] = Number((end - (before.get(name) ?? 0)).toFixed(2));
  return out;
}

/** One isolated installation: its key prefix, database and the processes it runs. */
export interface Installation {
  readonly id: string;
  readonly keys: Keys;
  readonly redis: Redis;
  readonly sql: postgres.Sql;
  readonly databaseUrl: string;
  /** The environment every service of this installation gets. */
  env(extra?: Record<string, string>): Record<string, string>;
  /** Spawn `deno task <task>` (its name in reports: `name`, default the task). */
  start(
    task: string,
    options?: { name?: string; env?: Record<string, string>; args?: string[] },
  ): Promise<ServiceProcess>;
  readonly procs: Map<string, ServiceProcess>;
  /** Stop every process (SIGTERM, then SIGKILL), drop the database and the keys. */
  close(): Promise<void>;
}

/** Options of {@link createInstallation}. */
export interface InstallationOptions {
  /** `VIGIL_PARTITIONS`. */
  partitions: number;
  /** Kafka bootstrap servers. */
  brokers: string;
  /** Services run with `--cpu-prof` (V8 profiles in `test-output/profiles/`). */
  profile?: readonly string[];
  /** Log level of the services. @default {"info"} */
  logLevel?: string;
}

/** A fresh prefix `bench-<id>:`, a fresh database and a data folder under `data/bench-<id>`. */
export async function createInstallation(options: InstallationOptions): Promise<Installation> {
  const id = crypto.randomUUID().replaceAll("-", "").slice(0, 10);
  const prefix = `bench-${id}:`;
  const db = await createDatabase({ prefix: "vigil_bench", connections: 2 });
  const redis = createRedis(TEST_REDIS_URL, { name: "bench-pipeline" });
  const procs = new Map<string, ServiceProcess>();
  const dataDir = `./data/bench-${id}`;
  // Under ./data/archive: the web task may read only there (its evidence lookups).
  const archiveDir = `./data/archive/bench-${id}`;
  const env = (extra: Record<string, string> = {}) => ({
    REDIS_URL: TEST_REDIS_URL,
    DATABASE_URL: db.url,
    VIGIL_PREFIX: prefix,
    VIGIL_PARTITIONS: String(options.partitions),
    KAFKA_BROKERS: options.brokers,
    LOG_LEVEL: options.logLevel ?? "info",
    BRIDGE_PORT: "0",
    DETECTOR_PORT: "0",
    ARCHIVE_PORT: "0",
    NOTIFIER_PORT: "0",
    WEB_PORT: "0",
    PRODUCER_PORT: "0",
    ARCHIVE_DIR: archiveDir,
    OUTBOX_DIR: `${dataDir}/outbox`,
    ...extra,
  });
  return {
    id,
    keys: createKeys(prefix),
    redis,
    sql: db.sql,
    databaseUrl: db.url,
    env,
    procs,
    async start(task, o = {}) {
      const name = o.name ?? task;
      const flags = options.profile?.includes(task)
        ? [
          "--cpu-prof",
          `--cpu-prof-dir=${ROOT}test-output/profiles`,
          `--cpu-prof-name=${name}-${id}.cpuprofile`,
        ]
        : [];
      const proc = await spawnTracked(task, env(o.env), o.args ?? [], { denoFlags: flags });
      const named: ServiceProcess = { ...proc, name };
      procs.set(name, named);
      return named;
    },
    async close() {
      await Promise.allSettled([...procs.values()].map((p) => p.stop(5000)));
      await db.drop().catch(() => {});
      await deletePrefix(redis, prefix);
      redis.disconnect();
      for (const dir of [dataDir, archiveDir]) {
        await Deno.remove(`${ROOT}${dir.slice(2)}`, { recursive: true }).catch(() => {});
      }
    },
  };
}

/** The dev Kafka (`deno task kafka`) as its own process, and its bootstrap servers. */
export async function startDevKafka(
  options: { partitions: number; brokers?: number },
): Promise<{ proc: ServiceProcess; bootstrap: string }> {
  const proc = await spawnTracked("kafka", {
    KAFKA_DEV_PARTITIONS: String(options.partitions),
    KAFKA_DEV_BROKERS: String(options.brokers ?? 3),
    // The services get `bootstrap`: leave the checkout's .vigil/kafka_brokers alone.
    KAFKA_DEV_BROKERS_FILE: "none",
    LOG_LEVEL: "warn",
  });
  const line = await proc.waitForLine(
    (l) => typeof l.bootstrap === "string",
    "the dev Kafka's bootstrap servers",
  );
  return { proc, bootstrap: String(line.bootstrap) };
}

/** Wait until `proc` logged `count` lines matching `match` (`what` names them in errors). */
export async function waitForLines(
  proc: ServiceProcess,
  match: (l: Record<string, unknown>) => boolean,
  count: number,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (proc.lines().filter(match).length < count) {
    if (Date.now() > deadline) {
      throw new Error(`${proc.name}: timed out waiting for ${what}. Output:\n${proc.tail()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
