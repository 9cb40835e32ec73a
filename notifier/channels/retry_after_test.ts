/**
 * `Retry-After` of a receiver that is down for maintenance (503) or rate limiting (429), against
 * a real local HTTP server, through each HTTP channel and the delivery loop.
 *
 * @module
 */
import assert from "node:assert/strict";
import { silentLogger } from "@vigil/tools/testing/log";
import { Registry } from "@vigil/shared/metrics";
import type { Digest } from "../digest.ts";
import { runChannel, Waker } from "../delivery.ts";
import type { AttemptRecord, NotifierStore } from "../store.ts";
import type { Channel } from "./channel.ts";
import { MAX_RETRY_AFTER_MS } from "./_http.ts";
import { createDiscordChannel } from "./discord.ts";
import { createSlackChannel } from "./slack.ts";
import { createWebhookChannel } from "./webhook.ts";

const NOW = Date.parse("2025-03-01T12:00:00Z");

const digest: Digest = {
  id: "g-1-x-0",
  kind: "digest",
  route: "default",
  groupKey: "default|",
  groupLabels: {},
  createdAt: NOW,
  channels: ["webhook"],
  alerts: [],
  flapping: [],
  streamIds: [],
};

/** A local HTTP server answering every request with `status` and `headers`. */
async function withReceiver(
  answer: { status: number; headers?: Record<string, string>; body?: string },
  fn: (url: string) => Promise<void>,
): Promise<void> {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    await req.body?.cancel();
    return new Response(answer.body ?? "down for maintenance", answer);
  });
  try {
    await fn(`http://127.0.0.1:${server.addr.port}/hook`);
  } finally {
    await server.shutdown();
  }
}

const channels: [string, (url: string) => Channel][] = [
  ["webhook", (url) => createWebhookChannel({ url, webBaseUrl: "http://web" })],
  ["slack", (url) => createSlackChannel({ url, webBaseUrl: "http://web" })],
  ["discord", (url) => createDiscordChannel({ url, webBaseUrl: "http://web" })],
];

Deno.test("the HTTP channels honour Retry-After of a 503 and a 429, an hour at most", async () => {
  const cases = [
    // Before: a 503's Retry-After was not read; the digest came back after 1 s, 2 s, 4 s, …
    { status: 503, headers: { "retry-after": "120" }, expect: 120_000 },
    { status: 503, headers: { "retry-after": "999999999" }, expect: MAX_RETRY_AFTER_MS },
    {
      status: 503,
      headers: { "retry-after": new Date(Date.now() + 7_200_000).toUTCString() },
      expect: MAX_RETRY_AFTER_MS,
    },
    { status: 429, headers: { "retry-after": "7" }, expect: 7000 },
    { status: 503, headers: {}, expect: undefined },
  ];
  for (const c of cases) {
    await withReceiver(c, async (url) => {
      for (const [name, make] of channels) {
        const r = await make(url).send(digest, AbortSignal.timeout(5000));
        const what = `${name} ${c.status} ${JSON.stringify(c.headers)}: ${JSON.stringify(r)}`;
        assert.ok(!r.ok && r.retryable && r.status === c.status, what);
        assert.equal(r.retryAfterMs, c.expect, what);
        if (c.expect !== undefined) assert.match(r.error, /retry after \d+ ms/, what);
      }
    });
  }
});

Deno.test("a digest a receiver answers 503 with Retry-After is tried again when it asked", async () => {
  await withReceiver(
    { status: 503, headers: { "retry-after": "300" } },
    async (url) => {
      const attempts: AttemptRecord[] = [];
      const store = {
        nextPending: () =>
          Promise.resolve(
            attempts.length ? null : {
              digest,
              channel: "webhook",
              attempts: 0,
              partsSent: 0,
              createdAt: NOW,
              nextAttemptAt: NOW,
            },
          ),
        setPartsSent: () => Promise.resolve(),
        recordAttempt: (rec: AttemptRecord) => {
          attempts.push(rec);
          return Promise.resolve();
        },
      } as unknown as NotifierStore;
      const ac = new AbortController();
      const loop = runChannel(
        {
          channel: createWebhookChannel({ url, webBaseUrl: "http://web" }),
          store,
          log: silentLogger(),
          registry: new Registry(),
          waker: new Waker(),
        },
        ac.signal,
        { now: () => NOW, idleMs: 5, retryBaseMs: 1000, retryCapMs: 120_000, random: () => 1 },
      );
      while (attempts.length === 0) await new Promise((r) => setTimeout(r, 5));
      ac.abort();
      await loop;
      assert.deepEqual(
        attempts.map((a) => [a.status, a.statusCode, a.nextAttemptAt]),
        [["pending", 503, NOW + 300_000]],
        "in 5 minutes, as asked (the backoff said 1 s)",
      );
    },
  );
});
