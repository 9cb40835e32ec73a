/**
 * `deno task dev` as a test or a tool starts it: its own Redis prefix,
 * PostgreSQL database and ports, in its own process group (so a "terminal"
 * Ctrl-C can go to the whole group, as a shell job gets it).
 *
 * @module
 */
import { stablePort } from "./ports.ts";

/** The ops and web ports of a dev stack, by their variable. */
export type DevPorts = Record<
  "PRODUCER_PORT" | "BRIDGE_PORT" | "DETECTOR_PORT" | "NOTIFIER_PORT" | "ARCHIVE_PORT" | "WEB_PORT",
  number
>;

/**
 * Start `deno task dev` with its own `prefix`, database `url` and ports (2
 * dev Kafka partitions, warn-level logs, `env` added) under `setsid`, or with
 * `terminal` in a pseudo-terminal of its own (`script`, util-linux: killing
 * the child closes that terminal, as closing its window does).
 */
export function startDevStack(options: {
  prefix: string;
  url: string;
  env?: Record<string, string>;
  output: "piped" | "null";
  terminal?: boolean;
}): { child: Deno.ChildProcess; ports: DevPorts } {
  const ports: DevPorts = {
    PRODUCER_PORT: stablePort(),
    BRIDGE_PORT: stablePort(),
    DETECTOR_PORT: stablePort(),
    NOTIFIER_PORT: stablePort(),
    ARCHIVE_PORT: stablePort(),
    WEB_PORT: stablePort(),
  };
  const [command, args]: [string, string[]] = options.terminal
    ? ["script", ["-qfec", `'${Deno.execPath()}' task dev`, "/dev/null"]]
    : ["setsid", [Deno.execPath(), "task", "dev"]];
  const child = new Deno.Command(command, {
    args,
    env: {
      VIGIL_PREFIX: options.prefix,
      DATABASE_URL: options.url,
      KAFKA_DEV_PARTITIONS: "2",
      // Its services get the address from the runner: leave the user's .vigil/kafka_brokers alone.
      KAFKA_DEV_BROKERS_FILE: "none",
      LOG_LEVEL: "warn",
      ...options.env,
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
    },
    stdout: options.output,
    stderr: options.output,
    // A terminal's input stays open (script stops when its input ends).
    stdin: options.terminal ? "piped" : "null",
  }).spawn();
  return { child, ports };
}
