/**
 * The delivery loop with an in-memory store and channel (no I/O).
 *
 * @module
 */
import assert from "node:assert/strict";
import { silentLogger } from "@vigil/tools/testing/log";
import { Registry } from "@vigil/shared/metrics";
import { alert } from "@vigil/tools/testing/batcher";
import type { Channel } from "./channels/channel.ts";
import type { Digest, DigestAlert } from "./digest.ts";
import { runChannel, Waker } from "./delivery.ts";
import type { AttemptRecord, NotifierStore, PendingNotification } from "./store.ts";

const NOW = Date.parse("2025-03-01T12:00:00Z");
const MIN = 60_000;

function digestAlert(over: Partial<DigestAlert>): DigestAlert {
  return { ...alert(over), isNew: false, flapping: false, resolvedAfterMs: null, ...over };
}

/** A store holding `pending` (sent in order) that records each attempt. */
function memoryStore(pending: PendingNotification[]) {
  const attempts: AttemptRecord[] = [];
  const store = {
    nextPending: () => {
      const done = new Set(attempts.filter((a) => a.status !== "pending").map((a) => a.digestId));
      return Promise.resolve(pending.find((p) => !done.has(p.digest!.id)) ?? null);
    },
    setPartsSent: () => Promise.resolve(),
    recordAttempt: (rec: AttemptRecord) => {
      attempts.push(rec);
      return Promise.resolve();
    },
  } as unknown as NotifierStore;
  return { store, attempts };
}

/** Run the loop over `pending` until every digest reached a final state (or `deadline` passed). */
async function deliver(
  pending: PendingNotification[],
  channel: Channel,
  registry: Registry,
  now = NOW,
  deadline = Infinity,
) {
  const { store, attempts } = memoryStore(pending);
  const ac = new AbortController();
  const loop = runChannel(
    { channel, store, log: silentLogger(), registry, waker: new Waker() },
    ac.signal,
    { now: () => now, idleMs: 5 },
  );
  const until = performance.now() + deadline;
  while (
    attempts.filter((a) => a.status !== "pending").length < pending.length &&
    performance.now() < until
  ) {
    await new Promise((r) => setTimeout(r, 5));
  }
  ac.abort();
  await loop;
  return attempts;
}

/** A digest of the default route for `channel`, made at `createdAt`. */
function digestFor(id: string, channel: string, createdAt: number, alerts: DigestAlert[]): Digest {
  return {
    id,
    kind: "digest",
    route: "default",
    groupKey: "default|",
    groupLabels: {},
    createdAt,
    channels: [channel],
    alerts,
    flapping: [],
    streamIds: [],
  };
}

/** The sample count of a histogram in the exposition. */
async function histogramCount(registry: Registry, name: string, channel: string) {
  const line = (await registry.render()).split("\n")
    .find((l) => l.startsWith(`${name}_count{channel="${channel}"}`));
  return line === undefined ? 0 : Number(line.split(" ").pop());
}

Deno.test("event_to_notified observes each alert once, in the digest that first tells it (new, or resolved before any digest), not again", async () => {
  const ok: Channel = { name: "email", send: () => Promise.resolve({ ok: true }) };
  const digest = digestFor("g-1", "email", NOW, [
    // New in this digest: 30 s from its event to the channel.
    digestAlert({ id: "new", isNew: true, stages: { event: NOW - 30_000 } }),
    // Announced two hours ago, listed again as still firing.
    digestAlert({ id: "old", stages: { event: NOW - 120 * MIN } }),
    // Announced an hour ago, now resolved (its stages are the firing event's).
    digestAlert({ id: "done", status: "resolved", stages: { event: NOW - 60 * MIN } }),
    // Fired and resolved within the group interval: this digest is the first to tell it.
    digestAlert({
      id: "brief",
      status: "resolved",
      firstTold: true,
      stages: { event: NOW - 4 * MIN },
    }),
  ]);
  const registry = new Registry();
  const attempts = await deliver(
    [{ digest, channel: "email", attempts: 0, partsSent: 0, createdAt: NOW, nextAttemptAt: NOW }],
    ok,
    registry,
  );
  assert.deepEqual(attempts.map((a) => a.status), ["sent"]);
  assert.equal(
    await histogramCount(registry, "vigil_notifier_event_to_notified_seconds", "email"),
    2,
    "only the latency of the alerts this digest tells first",
  );
});

Deno.test("a digest accepted for some recipients only is sent, with the refused ones recorded", async () => {
  const warning =
    "SMTP 127.0.0.1:25 refused 1 of 2 recipients: gone@example.com (550 No such user)";
  const partly: Channel = { name: "email", send: () => Promise.resolve({ ok: true, warning }) };
  const digest = digestFor("g-2", "email", NOW, [digestAlert({ id: "a", isNew: true })]);
  const registry = new Registry();
  const attempts = await deliver(
    [{ digest, channel: "email", attempts: 0, partsSent: 0, createdAt: NOW, nextAttemptAt: NOW }],
    partly,
    registry,
  );
  assert.deepEqual(attempts.map((a) => [a.status, a.ok, a.error]), [["sent", true, warning]]);
});

Deno.test("a notification given up after GIVE_UP_AFTER keeps why its attempts failed", async () => {
  let sends = 0;
  const down: Channel = {
    name: "webhook",
    send: () => {
      sends++;
      return Promise.resolve({ ok: false, retryable: true, error: "HTTP 503: maintenance" });
    },
  };
  const digest = digestFor("g-3", "webhook", NOW - 25 * 60 * MIN, [
    digestAlert({ id: "a", isNew: true }),
  ]);
  const attempts = await deliver(
    [{
      digest,
      channel: "webhook",
      attempts: 700,
      partsSent: 0,
      createdAt: digest.createdAt,
      nextAttemptAt: NOW,
      lastError: "HTTP 503: maintenance",
    }],
    down,
    new Registry(),
  );
  assert.equal(sends, 0, "not tried again");
  // Before: "gave up after 700 attempts", the reason gone from the row the API shows.
  assert.deepEqual(attempts.map((a) => [a.status, a.error]), [[
    "failed",
    "gave up after 700 attempts; the last: HTTP 503: maintenance",
  ]]);
});

Deno.test("a retry set before the clock went back an hour is tried at once, not an hour late", async () => {
  const ok: Channel = { name: "webhook", send: () => Promise.resolve({ ok: true }) };
  const digest = digestFor("g-4", "webhook", NOW - 5_000, [digestAlert({ id: "a", isNew: true })]);
  // Failed at NOW, retried 2 s later; then NTP steps the clock back an hour.
  const pending = (over: Partial<PendingNotification>): PendingNotification => ({
    digest,
    channel: "webhook",
    attempts: 1,
    partsSent: 0,
    createdAt: digest.createdAt,
    nextAttemptAt: NOW + 2_000,
    lastAttemptAt: NOW,
    ...over,
  });
  const back = NOW - 60 * MIN;
  const retried = await deliver([pending({})], ok, new Registry(), back, 1_500);
  // Before: the channel looked every second for an hour, the digest (and those queued behind it)
  // held until the clock caught up with the wait it had stored.
  assert.deepEqual(retried.map((a) => a.status), ["sent"]);
  const queued = pending({ attempts: 0, nextAttemptAt: NOW - 5_000, lastAttemptAt: null });
  const fresh = await deliver([queued], ok, new Registry(), back, 1_500);
  assert.deepEqual(fresh.map((a) => a.status), ["sent"], "made before the step, never tried");
  const waiting = await deliver([pending({ lastAttemptAt: back })], ok, new Registry(), back, 200);
  assert.deepEqual(waiting, [], "a wait set after the step is kept");
});

Deno.test("a Waker keeps no wait that ended: an idle loop waits twice a second, for days", async () => {
  const waker = new Waker();
  const signal = new AbortController().signal;
  for (let i = 0; i < 3; i++) await waker.wait(0, signal);
  // Before: each ended wait stayed listed until the next digest woke the loops (an idle notifier
  // grew by about 0.7 KB per wait, hundreds of MB a day with four channels).
  assert.equal(waker.waiting, 0);
  const woken = waker.wait(60_000, signal);
  assert.equal(waker.waiting, 1);
  waker.wake();
  await woken;
  assert.equal(waker.waiting, 0);
});
