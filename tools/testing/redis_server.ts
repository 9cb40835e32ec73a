/**
 * Test support: a private `redis-server` process on a free port, to stop,
 * hang (SIGSTOP) and restart without disturbing the shared test Redis. It
 * keeps an append-only file in a temporary folder, as a production Redis
 * would, so a restart brings the streams and groups back.
 *
 * @module
 */
import { stablePort } from "./ports.ts";

/** A private Redis server. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Stop it (SIGTERM, waits for exit). */
  stop(): Promise<void>;
  /** Start it again on the same port with the same data (none unless persistent). */
  start(): Promise<void>;
  /** Freeze it (SIGSTOP): connections stay open, nothing answers. */
  pause(): void;
  /** Thaw it (SIGCONT). */
  resume(): void;
  /** Stop it and remove its data. */
  close(): Promise<void>;
}

/** Does a Redis server answer PING on `port`? */
export async function ping(port: number): Promise<boolean> {
  try {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await c.write(new TextEncoder().encode("PING\r\n"));
      const buf = new Uint8Array(16);
      const n = await c.read(buf);
      return n !== null && new TextDecoder().decode(buf.subarray(0, n)).startsWith("+PONG");
    } finally {
      c.close();
    }
  } catch {
    return false;
  }
}

/**
 * Start a private Redis server (needs `redis-server` on PATH). With
 * `persistent: false` it keeps nothing (no append-only file, like the
 * development Redis): a restart comes back empty.
 */
export async function startRedisServer(
  options: { persistent?: boolean } = {},
): Promise<RedisServer> {
  const persistent = options.persistent ?? true;
  // Below the ephemeral range: a restart (seconds later) finds the port still free.
  const port = stablePort();
  const dir = await Deno.makeTempDir({ prefix: "vigil-redis-" });
  let child: Deno.ChildProcess | null = null;
  const start = async () => {
    child = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        persistent ? "yes" : "no",
        "--appendfsync",
        "always",
        "--dir",
        dir,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    for (let i = 0; i < 100; i++) {
      if (await ping(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`Cannot start redis-server on port ${port}`);
  };
  const stop = async () => {
    const c = child;
    child = null;
    if (!c) return;
    try {
      c.kill("SIGCONT");
      c.kill("SIGTERM");
    } catch {
      // already gone
    }
    await c.status;
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    start,
    pause: () => (child as Deno.ChildProcess | null)?.kill("SIGSTOP"),
    resume: () => (child as Deno.ChildProcess | null)?.kill("SIGCONT"),
    async close() {
      await stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
