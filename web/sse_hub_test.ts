import assert from "node:assert/strict";
import { silentLogger } from "@vigil/tools/testing/log";
import { Registry } from "@vigil/shared/metrics";
import { sampleValue } from "@vigil/tools/testing/metrics";
import { testAlert } from "@vigil/tools/testing/alert";
import { createWebMetrics } from "./metrics.ts";
import {
  createSseHub,
  type PubSubClient,
  serveLiveClient,
  type SseHubOptions,
  type SseSink,
} from "./sse_hub.ts";

function fakePubSub() {
  const listeners = {
    message: new Set<(...args: string[]) => void>(),
    ready: new Set<() => void>(),
    close: new Set<() => void>(),
  };
  let status = "ready";
  const client: PubSubClient = {
    subscribe: () => Promise.resolve(1),
    unsubscribe: () => Promise.resolve(0),
    on: (e, l) => listeners[e].add(l),
    off: (e, l) => listeners[e].delete(l),
    get status() {
      return status;
    },
  };
  return {
    client,
    publish: (ch: string, msg: string) => listeners.message.forEach((l) => l(ch, msg)),
    /** The connection is ready (again). */
    ready: () => {
      status = "ready";
      listeners.ready.forEach((l) => l());
    },
    /** The connection closed; ioredis is now `next` (e.g. "reconnecting"). */
    cut: (next: string) => {
      status = next;
      listeners.close.forEach((l) => l());
    },
  };
}

/** A sink whose writes block until `release()` (a client that does not read). */
function stuckSink() {
  const abortListeners: (() => void)[] = [];
  let release: () => void = () => {};
  const blocked = new Promise<void>((r) => (release = r));
  const sink: SseSink & { written: number; aborted: boolean } = {
    written: 0,
    aborted: false,
    async writeSSE() {
      this.written++;
      await blocked;
    },
    onAbort: (l) => abortListeners.push(l),
    abort() {
      this.aborted = true;
      abortListeners.forEach((l) => l());
      release();
    },
  };
  return sink;
}

/** A hub on channel "ch" with `subscriber`, a silent log and its own metrics unless given. */
function testHub(subscriber: SseHubOptions["subscriber"], options: Partial<SseHubOptions> = {}) {
  return createSseHub({
    subscriber,
    channel: "ch",
    ackChannel: "acks",
    log: silentLogger(),
    metrics: createWebMetrics(new Registry()),
    ...options,
  });
}

Deno.test("serveLiveClient() drops a client whose queue overflows instead of buffering forever", async () => {
  const pubsub = fakePubSub();
  const metrics = createWebMetrics(new Registry());
  const hub = testHub(pubsub.client, {
    metrics,
  });
  await hub.start();
  const sink = stuckSink();
  const served = serveLiveClient(hub, sink, { metrics, maxQueue: 3 });
  assert.equal(hub.size, 1);
  for (let i = 0; i < 5; i++) pubsub.publish("ch", JSON.stringify(testAlert()));
  await served;
  assert.equal(sink.aborted, true);
  assert.equal(hub.size, 0);
  assert.equal(await sampleValue(metrics.sseClients), 0);
  await hub.close();
});

Deno.test("createSseHub() ignores other channels and refuses clients when closed", async () => {
  const pubsub = fakePubSub();
  const metrics = createWebMetrics(new Registry());
  const hub = testHub(pubsub.client, {
    metrics,
  });
  await hub.start();
  const got: string[] = [];
  const remove = hub.add({ send: (m) => got.push(m.event), close: () => got.push("closed") });
  pubsub.publish("other", "{}");
  pubsub.publish("ch", "[]");
  assert.deepEqual(got, []);
  assert.equal(await sampleValue(metrics.alertsReceived, { result: "invalid" }), 1);
  await hub.close();
  assert.deepEqual(got, ["closed"]);
  remove();
  assert.throws(() => hub.add({ send() {}, close() {} }), /Cannot add live client: shutting down/);
});

Deno.test("createSseHub() beats at once for the first client and greets later ones with the last stats", async () => {
  const pubsub = fakePubSub();
  const metrics = createWebMetrics(new Registry());
  let collected = 0;
  const hub = testHub(pubsub.client, {
    metrics,
    heartbeat: { intervalMs: 60_000, collect: () => Promise.resolve({ n: ++collected }) },
  });
  await hub.start();
  const first: string[] = [];
  hub.add({ send: (m) => first.push(m.data), close() {} });
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(collected, 1);
  assert.equal(JSON.parse(first[0]!).stats.n, 1);
  const second: string[] = [];
  hub.add({ send: (m) => second.push(m.data), close() {} });
  assert.equal(collected, 1);
  assert.equal(JSON.parse(second[0]!).stats.n, 1);
  await hub.close();
});

Deno.test("createSseHub() greets the first client after a quiet spell with fresh stats only", async () => {
  const pubsub = fakePubSub();
  let collected = 0;
  const hub = testHub(pubsub.client, {
    heartbeat: { intervalMs: 60_000, collect: () => Promise.resolve({ n: ++collected }) },
  });
  await hub.start();
  const remove = hub.add({ send() {}, close() {} });
  await new Promise((r) => setTimeout(r, 0));
  remove(); // nobody watches: no beats, the last stats grow old
  const next: number[] = [];
  hub.add({ send: (m) => next.push(JSON.parse(m.data).stats.n), close() {} });
  await new Promise((r) => setTimeout(r, 0));
  // Greeted with the figures of the last client's time (an hour ago, say), the page's counters
  // went back to them until the fresh beat.
  assert.deepEqual(next, [2]);
  await hub.close();
});

Deno.test("createSseHub() still beats (ping) when the stats cannot be read", async () => {
  // The page drops a stream silent for 45 s: without a beat it reconnected every 45 s while
  // PostgreSQL was out of reach.
  const pubsub = fakePubSub();
  const hub = testHub(pubsub.client, {
    heartbeat: { intervalMs: 60_000, collect: () => Promise.reject(new Error("database down")) },
  });
  await hub.start();
  const got: string[] = [];
  hub.add({ send: (m) => got.push(m.event), close() {} });
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(got, ["ping"]);
  await hub.close();
});

Deno.test("createSseHub() greets no client with stats from before they failed", async () => {
  let fail = false;
  const hub = testHub(fakePubSub().client, {
    heartbeat: {
      intervalMs: 20,
      collect: () => fail ? Promise.reject(new Error("database down")) : Promise.resolve({ n: 1 }),
    },
  });
  await hub.start();
  const first: string[] = [];
  hub.add({ send: (m) => first.push(m.event), close() {} });
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(first[0], "stats");
  fail = true; // PostgreSQL out of reach from the next beat on
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(first.at(-1), "ping");
  const later: string[] = [];
  hub.add({ send: (m) => later.push(m.event), close() {} });
  assert.deepEqual(later, [], "no greeting with the figures of before the failure");
  await hub.close();
});

Deno.test("createSseHub()'s health says why live alerts cannot arrive, and since when", async () => {
  let t = 0;
  const pubsub = fakePubSub();
  const hub = testHub(pubsub.client, {
    now: () => t,
  });
  // Before: a bare `false` in every case.
  assert.deepEqual(hub.health(), { status: "fail", message: "not subscribed to live alerts yet" });
  await hub.start();
  assert.equal(hub.health(), true);
  t = 5_000;
  pubsub.cut("reconnecting");
  t = 17_000;
  assert.deepEqual(hub.health(), {
    status: "fail",
    message: "live alerts cut for 12 s: subscriber not connected (reconnecting)",
  });
  pubsub.ready();
  assert.equal(hub.health(), true);
  await hub.close();
  assert.deepEqual(hub.health(), { status: "fail", message: "shutting down" });
});

Deno.test("createSseHub() ends every stream when the subscriber connects again (alerts were missed)", async () => {
  const pubsub = fakePubSub();
  const metrics = createWebMetrics(new Registry());
  const hub = testHub(pubsub.client, {
    metrics,
  });
  pubsub.ready(); // the first connection: nothing to miss yet
  await hub.start();
  const got: string[] = [];
  const remove = hub.add({ send: (m) => got.push(m.event), close: () => got.push("closed") });
  pubsub.ready(); // connected again after a cut
  assert.deepEqual(got, ["closed"]);
  remove();
  assert.equal(hub.size, 0);
  await hub.close();
  pubsub.ready();
  assert.deepEqual(got, ["closed"]);
});

Deno.test("createSseHub() ends every stream when the subscriber is cut, and says it is cut until it is back", async () => {
  const pubsub = fakePubSub();
  const hub = testHub(pubsub.client);
  assert.equal(hub.cut, false); // not started: not a cut
  await hub.start();
  const got: string[] = [];
  // Like serveLiveClient(), a closed client leaves the hub.
  const remove = hub.add({
    send: (m) => got.push(m.event),
    close: (why) => {
      got.push(`closed: ${why}`);
      remove();
    },
  });
  // Pages said "Live" while no alert could reach them: their streams end (they show
  // "Reconnecting…") and new ones are refused (`cut`) until the subscriber is back.
  pubsub.cut("reconnecting");
  assert.deepEqual(got, ["closed: live alerts were cut"]);
  assert.equal(hub.cut, true);
  pubsub.ready();
  assert.equal(hub.cut, false);
  await hub.close();
  assert.equal(hub.cut, false);
  pubsub.cut("end"); // closing quits the subscriber: nothing more to end
  assert.deepEqual(got, ["closed: live alerts were cut"]);
});

Deno.test("createSseHub() hands a valid acknowledgement of its ack channel to every client as an ack event", async () => {
  const pubsub = fakePubSub();
  const metrics = createWebMetrics(new Registry());
  const hub = testHub(pubsub.client, { metrics });
  await hub.start();
  const got: { event: string; data: unknown }[] = [];
  hub.add({ send: (m) => got.push({ event: m.event, data: JSON.parse(m.data) }), close() {} });
  const ack = {
    id: "a-1",
    entity: "pay",
    acknowledged_at: "2026-01-02T03:04:05.000Z",
    acknowledged_by: "alice",
    ack_comment: null,
  };
  pubsub.publish("acks", "{not json");
  pubsub.publish("acks", JSON.stringify({ ...ack, acknowledged_at: null }));
  pubsub.publish("acks", JSON.stringify(ack));
  assert.deepEqual(got, [{ event: "ack", data: ack }]);
  // Not alerts: the alerts' counter does not count them.
  assert.equal(await sampleValue(metrics.alertsReceived, { result: "invalid" }), 0);
  await hub.close();
});
