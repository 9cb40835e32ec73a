/**
 * `deno task dev`: the dev Kafka plus every Vigil service in one terminal.
 * Each output line is prefixed with its service name; Ctrl-C, SIGTERM or a
 * closed terminal (SIGHUP) stops them all (SIGTERM, then SIGKILL after 9 s),
 * and a runner that dies otherwise takes them with it (each service gets
 * SIGTERM from the kernel: `setpriv --pdeathsig`). A service that dies by
 * itself is started again after a delay (not after exit 0 or a configuration
 * error, exit 2); when the dev Kafka exits, everything stops. The producer runs with
 * `DEV_PRODUCER_ARGS` (default `--scenario all --scenario-every 20s`).
 *
 * Prefixes are coloured only when stdout is a terminal and `NO_COLOR` is
 * unset (tools/dev/color.ts).
 *
 * Services are started with the exact command of their `deno task` in the
 * root deno.json (so the same permissions apply), without the task shell in
 * between, so signals reach them directly.
 *
 * The web, the notifier (for its test notification) and the detector (for its
 * evaluate endpoint's dispatch) get a development API token (`VIGIL_API_TOKEN`), created once in
 * `.vigil/api_token` and printed at start with how to use it (dev_token.ts),
 * unless `VIGIL_API_TOKEN` is already set.
 *
 * @module
 */
import { signalSeries, sleep } from "@vigil/shared/lifecycle";
import { DEV_KAFKA_LINGER_MS } from "@vigil/producer/config";
import { colorEnabled, paint } from "./color.ts";
import { devTokenMessage, ensureDevToken } from "./dev_token.ts";
import { portsToCheck, serviceEnv, servicePort } from "./service_env.ts";
import { exitPlan } from "./supervise.ts";
import { DIE_WITH_PARENT, taskCommand, type TaskEntry, which } from "./tasks.ts";

const SERVICES = ["bridge", "archive", "detector", "notifier", "web", "producer"] as const;
const COLORS = ["36", "33", "35", "32", "34", "31", "90"];
const encoder = new TextEncoder();

/** False once the output is gone: the terminal was closed (EIO) or a pipe's reader left (EPIPE). */
let output = true;

/**
 * Print a line, while there is somewhere to print it. A closed terminal must not end the
 * runner on its next line: Deno would then kill every service and the dev Kafka with
 * SIGKILL (no drain; the dev Kafka's brokers file left behind) instead of stopping them.
 */
function out(line: string): void {
  if (!output) return;
  try {
    Deno.stdout.writeSync(encoder.encode(line + "\n"));
  } catch {
    output = false;
  }
}

function splitCommand(cmd: string): string[] {
  return cmd.match(/(?:[^\s"']+|"[^"]*"|'[^']*')+/g)?.map((a) => a.replace(/^['"]|['"]$/g, "")) ??
    [];
}

async function pipeLines(
  stream: ReadableStream<Uint8Array>,
  prefix: string,
  onLine?: (line: string) => void,
): Promise<void> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      onLine?.(line);
      out(`${prefix} ${line}`);
    }
  }
  if (buf) out(`${prefix} ${buf}`);
}

const SETSID = which("/usr/bin/setsid", "/bin/setsid");
const config = JSON.parse(await Deno.readTextFile("deno.json"));
const tasks: Record<string, TaskEntry> = config.tasks ?? {};
// Prefixes in colour only on a terminal without NO_COLOR (a log file gets plain text).
const color = colorEnabled({
  isTerminal: Deno.stdout.isTerminal(),
  noColor: Deno.env.get("NO_COLOR"),
});
const children: { name: string; child: Deno.ChildProcess; done: Promise<Deno.CommandStatus> }[] =
  [];
const width = Math.max(...["kafka", ...SERVICES].map((s) => s.length));

/** Restart delays: 1 s doubling to 30 s, back to 1 s after a minute of running. */
const RESTART_MIN_MS = 1000;
const RESTART_MAX_MS = 30_000;
const RESTART_RESET_MS = 60_000;
const cancelRestarts = new AbortController();

function start(
  name: string,
  index: number,
  extraArgs: string[] = [],
  env: Record<string, string> = {},
  onLine?: (line: string) => void,
) {
  const task = taskCommand(tasks, name);
  if (!task) return;
  const argv = splitCommand(task);
  const entry = argv.at(-1);
  if (argv[0] !== "deno" || !entry) return;
  try {
    Deno.statSync(entry);
  } catch {
    out(`[dev] ${name}: ${entry} not found, skipped`);
    return;
  }
  const prefix = paint(`${name.padEnd(width)} |`, COLORS[index % COLORS.length]!, color);
  // Each service in its own session (setsid execs, so the pid stays the
  // service's): a terminal Ctrl-C reaches only this runner, which stops the
  // services first and the broker last. And each gets SIGTERM when this runner
  // dies however it dies (setpriv --pdeathsig, util-linux like setsid): a
  // runner killed with SIGKILL left every service running, ports held.
  const command = [
    ...(SETSID ? [SETSID] : []),
    ...DIE_WITH_PARENT,
    Deno.execPath(),
    ...argv.slice(1),
    ...extraArgs,
  ];
  const spawn = () => {
    const child = new Deno.Command(command[0]!, {
      args: command.slice(1),
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
      env,
    }).spawn();
    pipeLines(child.stdout, prefix, onLine);
    pipeLines(child.stderr, prefix);
    return child;
  };
  // A service that dies by itself (a crash, an out-of-memory kill, kill -9) is started again
  // after a delay, as compose.yaml's `restart: unless-stopped` does; one that ends cleanly
  // (exit 0) or on a configuration error (exit 2) is not, and the dev Kafka is not (its data
  // and address would be new: see below).
  let child = spawn();
  const supervise = async () => {
    let delay = RESTART_MIN_MS;
    for (;;) {
      const startedAt = Date.now();
      const s = await child.status;
      if (Date.now() - startedAt >= RESTART_RESET_MS) delay = RESTART_MIN_MS;
      const plan = exitPlan(name, s, { stopping, delayMs: delay });
      out(plan.line);
      if (!plan.restart) return s;
      await sleep(delay, cancelRestarts.signal).catch(() => {}); // cut short by stopAll
      if (stopping) {
        out(`[dev] ${name} not started again: stopping`);
        return s;
      }
      delay = Math.min(delay * 2, RESTART_MAX_MS);
      child = spawn();
    }
  };
  // `child` is the current process: stopAll signals whichever is running.
  children.push({
    name,
    get child() {
      return child;
    },
    done: supervise(),
  });
}

/** This runner's environment, as service_env.ts reads it. */
const getEnv = (name: string) => Deno.env.get(name);

/** The services whose port something already listens on: `[name, variable, port]`. */
function portsInUse(): [string, string, number][] {
  const host = Deno.env.get("HTTP_HOST") || "127.0.0.1";
  return portsToCheck(getEnv).flatMap(([name, variable, port]): [string, string, number][] => {
    const hostname = name === "web" ? Deno.env.get("WEB_HOST") || host : host;
    try {
      Deno.listen({ hostname, port }).close();
      return [];
    } catch (error) {
      // Another address than this runner may use: the service itself will tell.
      return error instanceof Deno.errors.AddrInUse ? [[name, variable, port]] : [];
    }
  });
}

let stopping = false;
// One Ctrl-C can arrive twice (the terminal and `deno task`); only a second press forces.
const nextSignal = signalSeries();
async function stopAll(exitCode = 0): Promise<void> {
  const kind = nextSignal();
  if (kind === "repeated") return;
  if (kind === "second") {
    for (const c of children) {
      try {
        c.child.kill("SIGKILL");
      } catch { /* gone */ }
    }
    Deno.exit(130);
  }
  stopping = true;
  cancelRestarts.abort();
  out("[dev] stopping every service (Ctrl-C again to force)");
  // Services first, the broker last.
  const services = children.filter((c) => c.name !== "kafka");
  for (const c of services) {
    try {
      c.child.kill("SIGTERM");
    } catch { /* gone */ }
  }
  const timer = setTimeout(() => {
    for (const c of children) {
      try {
        c.child.kill("SIGKILL");
      } catch { /* gone */ }
    }
  }, 9000);
  await Promise.all(services.map((c) => c.done));
  for (const c of children.filter((c) => c.name === "kafka")) {
    try {
      c.child.kill("SIGTERM");
    } catch { /* gone */ }
    await c.done;
  }
  clearTimeout(timer);
  out("[dev] all stopped");
  Deno.exit(exitCode);
}
// SIGHUP: the terminal was closed.
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  Deno.addSignalListener(sig, () => stopAll());
}

// A second `up` (or `deno task dev`) beside a running one would start a second dev Kafka,
// point .vigil/kafka_brokers at it and then see every service but the producer exit with
// "port in use": say so once, before starting anything. Free ports alone are not enough for a
// second stack: with the same Redis prefix both bridges append to the same streams (one's
// Kafka offsets taken for the other's duplicates), with the same database both pages show both.
const busy = portsInUse();
if (busy.length > 0) {
  out(
    `[dev] cannot start: ${
      busy.map(([name, variable, port]) => `${port} (${name}, ${variable})`).join(", ")
    } already in use. Is Vigil already running (bash tools/vigil.sh up or deno task dev in another terminal)? Stop it first, or, for a second stack beside it, set ${
      busy.map(([, variable]) => variable).join(", ")
    } to free ports, VIGIL_PREFIX to another Redis prefix and DATABASE_URL to another database (sharing them mixes the two stacks' events and anomalies): docs/operations.md#a-second-stack-on-one-machine`,
  );
  Deno.exit(1);
}

// Extra environment per service. Acknowledge and Silence need a token: the web, the
// notifier (the page's test notification goes web → notifier with it) and the detector
// (evaluate with dispatch) get the development one; the web finds the others at their ports,
// the notifier's digests link to this stack's page (service_env.ts).
const env = serviceEnv(getEnv);
if (Deno.env.get("VIGIL_API_TOKEN")) {
  out("[dev] VIGIL_API_TOKEN is set: the web uses it (no development token)");
} else {
  try {
    const token = await ensureDevToken();
    for (const line of devTokenMessage(token, { webPort: servicePort(getEnv, "web") })) {
      out(`[dev] ${line}`);
    }
    for (const name of ["web", "notifier", "detector"]) env[name]!.VIGIL_API_TOKEN = token.token;
  } catch (error) {
    out(`[dev] ${(error as Error).message}`);
    Deno.exit(1);
  }
}
// The dev broker, unless KAFKA_BROKERS points at a real one. Its address goes to every
// service in KAFKA_BROKERS, taken from its own output, not from .vigil/kafka_brokers: another
// dev stack in this checkout (a test's) may rewrite that file at any time.
const external = Deno.env.get("KAFKA_BROKERS");
if (!external) {
  const bootstrap = Promise.withResolvers<string>();
  start("kafka", 6, [], {}, (line) => {
    const m = /^KAFKA_BROKERS=(\S+)$/.exec(line);
    if (m) bootstrap.resolve(m[1]!);
  });
  const timer = setTimeout(() => bootstrap.reject(new Error("no address within 15 s")), 15_000);
  children.find((c) => c.name === "kafka")?.done.then(() =>
    bootstrap.reject(new Error("it exited"))
  );
  try {
    const brokers = await bootstrap.promise;
    for (const name of SERVICES) (env[name] ??= {}).KAFKA_BROKERS = brokers;
    // The dev Kafka keeps its data in memory: one started again would be empty, at another
    // address, so every service would be left without its broker. Stop them all and say so.
    children.find((c) => c.name === "kafka")?.done.then(() => {
      if (stopping) return;
      out(
        "[dev] the dev Kafka exited, its messages with it: stopping every service (run up again)",
      );
      stopAll(1);
    });
  } catch (error) {
    out(`[dev] the dev Kafka did not start (${(error as Error).message}): see its lines above`);
    for (const c of children) {
      try {
        c.child.kill("SIGTERM");
      } catch { /* gone */ }
    }
    Deno.exit(1);
  } finally {
    clearTimeout(timer);
  }
}
// On the dev Kafka the producer lingers longer (DEV_KAFKA_LINGER_MS): the mock returns one
// produce batch per partition per fetch and walks its list of batches to find the offset, so
// small batches saturate it (docs/benchmarks.md, "Live"). A real broker does not need it.
if (!external && !Deno.env.get("PRODUCER_LINGER_MS")) {
  env.producer!.PRODUCER_LINGER_MS = String(DEV_KAFKA_LINGER_MS);
}
// The producer injects its labelled anomaly scenarios, so alerts show up within a minute.
const producerArgs = splitCommand(
  Deno.env.get("DEV_PRODUCER_ARGS") ?? "--scenario all --scenario-every 20s",
);
SERVICES.forEach((name, i) =>
  start(
    name,
    i,
    name === "producer" ? producerArgs : [],
    env[name] ?? {},
  )
);
if (children.length === 0) {
  out("[dev] nothing to run");
  Deno.exit(1);
}
await Promise.all(children.map((c) => c.done));
if (!stopping) Deno.exit(1);
