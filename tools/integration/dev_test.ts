/**
 * `deno task dev` end to end: the dev Kafka and every service come up
 * healthy, every service refuses oversized bodies (413) and control
 * characters in URLs (400), events flow into the streams, a service killed
 * with SIGKILL is started again, and a terminal
 * Ctrl-C (SIGINT to the whole foreground process group) stops everything
 * cleanly within 10 s.
 */
import assert from "node:assert/strict";
import { createKeys } from "@vigil/shared/keys";
import { waitFor } from "../testing/kafka.ts";
import { withPg } from "../testing/pg.ts";
import { withRedis } from "../testing/redis.ts";
import { startDevStack } from "../testing/dev_stack.ts";
import { stablePort } from "../testing/ports.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function healthy(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`, {
      signal: AbortSignal.timeout(1000),
    });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/** The pid of the process running `entry` with `VIGIL_PREFIX=prefix` (Linux /proc). */
async function pidOf(entry: string, prefix: string): Promise<number | undefined> {
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmdline = await Deno.readTextFile(`/proc/${e.name}/cmdline`);
      if (!cmdline.split("\0").includes(entry)) continue;
      const environ = await Deno.readTextFile(`/proc/${e.name}/environ`);
      if (environ.split("\0").includes(`VIGIL_PREFIX=${prefix}`)) return Number(e.name);
    } catch { /* gone, or not ours to read */ }
  }
  return undefined;
}

/** The resident memory a service reports on its /metrics. */
async function rssOf(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = /^process_resident_memory_bytes (\S+)$/m.exec(text);
  assert.ok(m, `port ${port}: /metrics has process_resident_memory_bytes`);
  return Number(m[1]);
}

/**
 * Every service over a real socket: a 1 MB POST answers 413, `?x=%00` 400;
 * a 64 MB body streamed to an endpoint that reads bodies (detector evaluate,
 * web silences) answers 413 without the process growing by it.
 */
async function hardened(ports: Record<string, number>): Promise<void> {
  for (const [name, port] of Object.entries(ports)) {
    const big = await fetch(`http://127.0.0.1:${port}/health`, {
      method: "POST",
      body: new Uint8Array(1024 * 1024),
    });
    assert.equal(big.status, 413, `${name}: 1 MB POST`);
    assert.match((await big.json()).error, /^Cannot read body: larger than \d+ bytes$/);
    const nul = await fetch(`http://127.0.0.1:${port}/health?x=%00`);
    assert.equal(nul.status, 400, `${name}: ?x=%00`);
    await nul.body?.cancel();
  }
  for (
    const [name, path] of [
      ["DETECTOR_PORT", "/api/alerts/evaluate"],
      ["WEB_PORT", "/api/silences"],
    ] as const
  ) {
    const port = ports[name]!;
    const before = await rssOf(port);
    let sent = 0;
    const chunk = new Uint8Array(1024 * 1024).fill(32);
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ >= 64) return controller.close();
        controller.enqueue(chunk);
      },
    });
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: "POST", body });
    assert.equal(res.status, 413, `${name}: 64 MB POST`);
    await res.body?.cancel();
    const grown = (await rssOf(port)) - before;
    assert.ok(grown < 32 * 1024 * 1024, `${name}: RSS grew by ${(grown / 1048576).toFixed(1)} MB`);
  }
}

Deno.test(
  "deno task dev runs every service and Ctrl-C stops them all within 10 s",
  opts,
  async () => {
    await withPg(async ({ url }) => {
      await withRedis(async ({ redis, prefix }) => {
        // A user's `up` in this checkout keeps its brokers file: this stack's services get
        // their Kafka from the runner (a shared file sent a running stack's producer to the
        // test's Kafka, and its removal at the end left the user's stack without one).
        const brokersFile = () => Deno.readTextFile(".vigil/kafka_brokers").catch(() => null);
        const brokersBefore = await brokersFile();
        const { child, ports } = startDevStack({
          prefix,
          url,
          env: { DEV_PRODUCER_ARGS: "--rate 100" },
          output: "piped",
        });
        let output = "";
        const decoder = new TextDecoder();
        const collect = async (s: ReadableStream<Uint8Array>) => {
          for await (const chunk of s) output += decoder.decode(chunk, { stream: true });
        };
        const collecting = Promise.all([collect(child.stdout), collect(child.stderr)]);
        let stopped = false;
        try {
          const withOutput = async (p: Promise<void>) => {
            try {
              await p;
            } catch (err) {
              throw new Error(
                `${(err as Error).message}\n--- dev output ---\n${output.slice(-4000)}`,
              );
            }
          };
          for (const [name, port] of Object.entries(ports)) {
            // Every service, the web included, serves /health.
            await withOutput(waitFor(() => healthy(port), {
              timeoutMs: 90_000,
              what: `${name} healthy`,
            }));
          }
          await withOutput(hardened(ports));
          const keys = createKeys(prefix);
          await withOutput(waitFor(async () => (await redis.xlen(keys.events("logs"))) > 50, {
            timeoutMs: 30_000,
            what: "events bridged into the logs stream",
          }));
          assert.equal(await brokersFile(), brokersBefore, ".vigil/kafka_brokers untouched");
          // A service that dies by itself (kill -9) is started again, as compose restarts it.
          const detector = await pidOf("detector/main.ts", prefix);
          assert.ok(detector, "the detector's process");
          Deno.kill(detector, "SIGKILL");
          await withOutput(waitFor(
            () =>
              /\[dev\] detector exited with code 137 \(SIGKILL\); starting it again in 1 s/.test(
                output,
              ),
            { timeoutMs: 10_000, what: "the runner starting the detector again" },
          ));
          await withOutput(waitFor(async () => {
            const pid = await pidOf("detector/main.ts", prefix);
            return pid !== undefined && pid !== detector && await healthy(ports.DETECTOR_PORT);
          }, { timeoutMs: 60_000, what: "a new detector healthy" }));
          // Ctrl-C: SIGINT to the process group (the runner's pid is its pgid).
          const started = Date.now();
          Deno.kill(-child.pid, "SIGINT");
          const status = await child.status;
          stopped = true;
          const took = Date.now() - started;
          await collecting;
          assert.equal(status.code, 0, output.slice(-3000));
          assert.ok(took < 10_000, `stopped in ${took} ms`);
          for (
            const name of ["kafka", "producer", "bridge", "archive", "detector", "notifier", "web"]
          ) {
            assert.match(output, new RegExp(`\\[dev\\] ${name} exited with code 0`), name);
          }
          assert.doesNotMatch(output, /forcing exit/, "no service saw a second signal");
          assert.match(output, /\[dev\] all stopped/);
          assert.equal(await brokersFile(), brokersBefore, ".vigil/kafka_brokers untouched");
        } finally {
          if (!stopped) {
            try {
              Deno.kill(-child.pid, "SIGKILL");
            } catch { /* gone */ }
            await child.status;
            await collecting.catch(() => {});
          }
        }
      });
    });
  },
);

for (
  const [how, signal] of [
    ["its terminal closed (SIGHUP)", "SIGHUP"],
    ["the runner killed (SIGKILL)", "SIGKILL"],
  ] as const
) {
  Deno.test(`deno task dev: ${how} stops every service`, opts, async () => {
    await withPg(async ({ url }) => {
      await withRedis(async ({ prefix }) => {
        const { child, ports } = startDevStack({
          prefix,
          url,
          env: { DEV_PRODUCER_ARGS: "--rate 20" },
          output: "null",
        });
        try {
          for (const [name, port] of Object.entries(ports)) {
            await waitFor(() => healthy(port), { timeoutMs: 90_000, what: `${name} healthy` });
          }
          // The runner's process group: a closed terminal sends it SIGHUP; SIGKILL leaves
          // the services (each in its own session) to notice their parent is gone.
          Deno.kill(-child.pid, signal);
          await child.status;
          for (const [name, port] of Object.entries(ports)) {
            await waitFor(async () => !(await healthy(port)), {
              timeoutMs: 15_000,
              what: `${name} stopped`,
            });
          }
        } finally {
          try {
            Deno.kill(-child.pid, "SIGKILL");
          } catch { /* gone */ }
          await child.status;
        }
      });
    });
  });
}

Deno.test(
  "deno task dev in a terminal that is closed stops every service cleanly, the dev Kafka last",
  opts,
  async () => {
    await withPg(async ({ url }) => {
      await withRedis(async ({ prefix }) => {
        // The dev Kafka removes its brokers file when it is stopped (SIGTERM), not when it is
        // killed: a file left behind means the runner died and Deno killed its children.
        const dir = `.vigil/test-${crypto.randomUUID().slice(0, 8)}`;
        const brokersFile = `${dir}/kafka_brokers`;
        // A real pseudo-terminal (`script`, util-linux): closing it (its master side) hangs
        // the terminal up: SIGHUP, and every later write of the runner fails with EIO.
        const { child, ports } = startDevStack({
          prefix,
          url,
          env: { DEV_PRODUCER_ARGS: "--rate 20", KAFKA_DEV_BROKERS_FILE: brokersFile },
          output: "piped",
          terminal: true,
        });
        const draining = Promise.all([
          child.stdout!.pipeTo(new WritableStream()),
          child.stderr!.pipeTo(new WritableStream()),
        ]).catch(() => {});
        try {
          for (const [name, port] of Object.entries(ports)) {
            await waitFor(() => healthy(port), { timeoutMs: 90_000, what: `${name} healthy` });
          }
          assert.ok(await Deno.stat(brokersFile), "the dev Kafka wrote its brokers file");
          const runner = await pidOf("tools/dev/dev_main.ts", prefix);
          assert.ok(runner, "the runner's process");
          // The terminal window closed: `script` (the terminal's master side) is gone.
          child.kill("SIGKILL");
          await child.status;
          await draining;
          await waitFor(async () => !(await pidOf("tools/dev/dev_main.ts", prefix)), {
            timeoutMs: 15_000,
            what: "the runner gone",
          });
          for (const [name, port] of Object.entries(ports)) {
            await waitFor(async () => !(await healthy(port)), {
              timeoutMs: 15_000,
              what: `${name} stopped`,
            });
          }
          await assert.rejects(
            Deno.stat(brokersFile),
            Deno.errors.NotFound,
            "the dev Kafka was stopped, not killed (its brokers file is removed)",
          );
        } finally {
          try {
            child.kill("SIGKILL");
          } catch { /* gone */ }
          const runner = await pidOf("tools/dev/dev_main.ts", prefix);
          if (runner) Deno.kill(runner, "SIGKILL");
          await Deno.remove(dir, { recursive: true }).catch(() => {});
        }
      });
    });
  },
);

Deno.test(
  "deno task dev beside a running one refuses at once, naming the ports, and starts no dev Kafka",
  opts,
  async () => {
    // What a second `up` finds: the first one's web and detector listening.
    const taken = [
      Deno.listen({ hostname: "127.0.0.1", port: 0 }),
      Deno.listen({
        hostname: "127.0.0.1",
        port: 0,
      }),
    ];
    const [web, detector] = taken.map((l) => (l.addr as Deno.NetAddr).port);
    try {
      // In its own process group, so a runner that does not refuse can be stopped whole.
      const child = new Deno.Command("setsid", {
        args: [Deno.execPath(), "task", "dev"],
        env: {
          KAFKA_DEV_BROKERS_FILE: "none",
          BRIDGE_PORT: String(stablePort()),
          NOTIFIER_PORT: String(stablePort()),
          ARCHIVE_PORT: String(stablePort()),
          WEB_PORT: String(web),
          DETECTOR_PORT: String(detector),
        },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const started = setTimeout(() => Deno.kill(-child.pid, "SIGINT"), 30_000);
      const [status, stdout] = await Promise.all([
        child.status,
        new Response(child.stdout).text(),
        new Response(child.stderr).text(),
      ]);
      clearTimeout(started);
      assert.equal(status.code, 1);
      assert.match(
        stdout,
        new RegExp(
          `\\[dev\\] cannot start: ${detector} \\(detector, DETECTOR_PORT\\), ${web} \\(web, WEB_PORT\\) already in use\\. Is Vigil already running`,
        ),
      );
      assert.doesNotMatch(stdout, /^kafka /m, "no dev Kafka started");
    } finally {
      for (const l of taken) l.close();
    }
  },
);
