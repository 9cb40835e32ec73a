/**
 * What the web's /metrics says, read over HTTP from the service as main.ts
 * starts it (`startWebServer`: the request-head guard in front of the app):
 * a live client that closed its connection leaves `vigil_web_sse_clients` at
 * once (not at the next heartbeat), and the answers of the guard (408, 414,
 * 431, 400 before the app) are in `vigil_web_http_requests_total`.
 */
import assert from "node:assert/strict";
import { silentLogger } from "@vigil/tools/testing/log";
import { withPg } from "@vigil/tools/testing/pg";
import { withRedis } from "@vigil/tools/testing/redis";
import { parseWebConfig } from "../config.ts";
import { startWebServer, type WebServer } from "../server.ts";
import { waitUntil } from "./_sse.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const encoder = new TextEncoder();
const TOKEN = "test-token-0123456789";

async function withWebServer(
  env: Record<string, string>,
  fn: (server: WebServer) => Promise<void>,
): Promise<void> {
  await withPg(({ url }) =>
    withRedis(async ({ prefix }) => {
      const config = parseWebConfig({
        DATABASE_URL: url,
        VIGIL_PREFIX: prefix,
        WEB_PORT: "0",
        // Longest allowed: a closed client must not wait for it to leave the count.
        WEB_HEARTBEAT_INTERVAL: "30s",
        ...env,
      });
      const server = await startWebServer(config, { log: silentLogger() });
      try {
        await fn(server);
      } finally {
        await server.close();
      }
    })
  );
}

/** The samples of `name` in the server's /metrics, by their label text (`""` without labels). */
async function scrape(port: number, name: string): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, "gm"))) {
    out.set(m[1] ?? "", Number(m[2]));
  }
  return out;
}

/** A raw TCP client: sends `head`, returns the connection and what it read first. */
async function rawRequest(
  port: number,
  head: string,
): Promise<{ conn: Deno.TcpConn; first: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(encoder.encode(head));
  const buf = new Uint8Array(16 * 1024);
  const n = await conn.read(buf);
  return { conn, first: new TextDecoder().decode(buf.subarray(0, n ?? 0)) };
}

Deno.test(
  "vigil_web_sse_clients drops as soon as a live client closes its connection",
  opts,
  async () => {
    await withWebServer({}, async (server) => {
      const clients = async () => (await scrape(server.port, "vigil_web_sse_clients")).get("");
      const live = "GET /api/live HTTP/1.1\r\nhost: test\r\naccept: text/event-stream\r\n\r\n";
      const a = await rawRequest(server.port, live);
      const b = await rawRequest(server.port, live);
      assert.match(a.first, /^HTTP\/1\.1 200/);
      await waitUntil(async () => (await clients()) === 2, "two live clients counted");
      a.conn.close(); // the tab closed: FIN, nothing more
      await waitUntil(async () => (await clients()) === 1, "the closed client no longer counted");
      const health = await fetch(`http://127.0.0.1:${server.port}/health`);
      assert.equal((await health.json()).live_clients, 1);
      // A client that went without reading anything of its answer (RST).
      const c = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      await c.write(encoder.encode(live));
      await waitUntil(async () => (await clients()) === 2, "the third client counted");
      c.close();
      b.conn.close();
      await waitUntil(async () => (await clients()) === 0, "no live client counted");
    });
  },
);

Deno.test(
  "vigil_web_http_requests_total counts what the request-head guard answers, route unrouted",
  opts,
  async () => {
    const env = {
      VIGIL_API_TOKEN: TOKEN,
      // Short, for the two answers that wait for them; long enough that on a loaded machine a
      // head sent at once is read before its timer fires (300 ms once answered 408, not 431).
      HTTP_HEADER_TIMEOUT: "1s",
      HTTP_BODY_TIMEOUT: "1s",
      HTTP_MAX_HEADER_BYTES: "2048",
    };
    await withWebServer(env, async (server) => {
      const answered = async (head: string, status: number) => {
        const { conn, first } = await rawRequest(server.port, head);
        conn.close();
        assert.match(first, new RegExp(`^HTTP/1\\.1 ${status} `), first);
      };
      await answered(
        `GET /api/health HTTP/1.1\r\nhost: t\r\nx-big: ${"a".repeat(3000)}\r\n\r\n`,
        431,
      );
      await answered(`GET /api/anomalies?q=${"a".repeat(3000)}`, 414);
      await answered("GET /api/health HTTP/1.1\r\nhost: t\r\ncontent-length: x\r\n\r\n", 400);
      await answered("GET /api/health HTTP/1.1\r\nhost: t\r\n", 408); // the head never ends
      // The body never comes: the guard answers 408; the app has the request and counts it once,
      // with what it answered when the body failed (400: the client saw the 408).
      await answered(
        `POST /api/silences HTTP/1.1\r\nhost: t\r\nauthorization: Bearer ${TOKEN}\r\n` +
          "content-type: application/json\r\n" +
          "content-length: 100\r\n\r\n{",
        408,
      );
      // A connection that sends nothing (a browser's preconnect) made no request: not counted.
      const idle = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      const got = await idle.read(new Uint8Array(1024)); // the guard's 408, then its close
      assert.ok(got !== null);
      idle.close();
      // And the app's own answers are counted as before.
      const res = await fetch(`http://127.0.0.1:${server.port}/api/health`);
      await res.body?.cancel();

      const requests = await scrape(server.port, "vigil_web_http_requests_total");
      assert.deepEqual(Object.fromEntries(requests), {
        '{route="unrouted",status="431"}': 1,
        '{route="unrouted",status="414"}': 1,
        '{route="unrouted",status="400"}': 1,
        '{route="unrouted",status="408"}': 1,
        '{route="/api/silences",status="400"}': 1,
        '{route="/api/health",status="200"}': 1,
      });
    });
  },
);
