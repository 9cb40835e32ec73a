/**
 * `deno task dev` end to end: the dev Kafka and every service come up
 * healthy, events flow into the streams, and a terminal Ctrl-C (SIGINT to
 * the whole foreground process group) stops everything cleanly within 10 s.
 */
import assert from "node:assert/strict";
import { createKeys } from "@vigil/shared/keys";
import { waitFor } from "../testing/kafka.ts";
import { withPg } from "../testing/pg.ts";
import { withRedis } from "../testing/redis.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/**
 * A free port below the kernel's ephemeral range (32768+), so that no
 * outgoing connection or `port: 0` listener of a test running in parallel
 * can take it between this check and the service binding it.
 */
function freePort(): number {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch { /* taken, try another */ }
  }
}

async function healthy(port: number, path = "/health"): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      signal: AbortSignal.timeout(1000),
    });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

Deno.test(
  "deno task dev runs every service and Ctrl-C stops them all within 10 s",
  opts,
  async () => {
    await withPg(async ({ url }) => {
      await withRedis(async ({ redis, prefix }) => {
        const ports = {
          PRODUCER_PORT: freePort(),
          BRIDGE_PORT: freePort(),
          DETECTOR_PORT: freePort(),
          NOTIFIER_PORT: freePort(),
          ARCHIVE_PORT: freePort(),
          WEB_PORT: freePort(),
        };
        const env: Record<string, string> = {
          VIGIL_PREFIX: prefix,
          DATABASE_URL: url,
          KAFKA_DEV_PARTITIONS: "2",
          DEV_PRODUCER_ARGS: "--rate 100",
          LOG_LEVEL: "warn",
          ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
        };
        // setsid: the runner leads its own process group, like a shell job, so a
        // "terminal" SIGINT can go to the whole group as Ctrl-C does.
        const child = new Deno.Command("setsid", {
          args: [Deno.execPath(), "task", "dev"],
          env,
          stdout: "piped",
          stderr: "piped",
          stdin: "null",
        }).spawn();
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
            const path = name === "WEB_PORT" ? "/api/health" : "/health";
            await withOutput(waitFor(() => healthy(port, path), {
              timeoutMs: 90_000,
              what: `${name} healthy`,
            }));
          }
          const keys = createKeys(prefix);
          await withOutput(waitFor(async () => (await redis.xlen(keys.events("logs"))) > 50, {
            timeoutMs: 30_000,
            what: "events bridged into the logs stream",
          }));
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
