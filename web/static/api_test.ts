import assert from "node:assert/strict";
import { coalesce, getJson, getToken, setToken, tokenProblem } from "./api.js";

/** A hand-driven clock: timers fire only when `advance` passes them. */
function manualClock() {
  let now = 0;
  let next = 1;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout: (fn: () => void, ms: number) => {
      timers.set(next, { at: now + ms, fn });
      return next++;
    },
    clearTimeout: (id: number | undefined) => void timers.delete(id ?? -1),
    async advance(ms: number) {
      now += ms;
      for (const [id, t] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
        if (t.at > now) continue;
        timers.delete(id);
        t.fn();
        await new Promise((r) => setTimeout(r, 0)); // let the task's promise settle
      }
    },
  };
}

Deno.test("coalesce() merges a burst of calls into one run, then one more after the gap", async () => {
  const clock = manualClock();
  let runs = 0;
  const ask = coalesce(() => Promise.resolve(void runs++), 1000, clock);
  for (let i = 0; i < 500; i++) ask();
  await clock.advance(0);
  assert.equal(runs, 1, "the first call runs at once");
  for (let i = 0; i < 500; i++) ask();
  await clock.advance(999);
  assert.equal(runs, 1, "the next run waits for the gap");
  await clock.advance(1);
  assert.equal(runs, 2, "the 500 calls since are one run");
  await clock.advance(5000);
  assert.equal(runs, 2, "nothing asked, nothing run");
});

Deno.test("coalesce() never overlaps runs: a call during a run runs once after it", async () => {
  const clock = manualClock();
  let runs = 0;
  let active = 0;
  let finish = () => {};
  const ask = coalesce(
    () => {
      runs++;
      assert.equal(++active, 1, "one run at a time");
      return new Promise<void>((r) => finish = () => (active--, r()));
    },
    0,
    clock,
  );
  ask();
  await clock.advance(0);
  ask();
  ask();
  await clock.advance(10_000);
  assert.equal(runs, 1, "still running: the calls wait");
  finish();
  await clock.advance(0);
  await clock.advance(0);
  assert.equal(runs, 2);
  finish();
  await clock.advance(0);
  assert.equal(runs, 2);
});

Deno.test("coalesce() keeps going after a failed run, and cancel() drops what was asked", async () => {
  const clock = manualClock();
  let runs = 0;
  const ask = coalesce(() => (runs++, Promise.reject(new Error("down"))), 100, clock);
  ask();
  await clock.advance(0);
  ask();
  await clock.advance(100);
  assert.equal(runs, 2, "a failure does not stop later runs");
  ask();
  ask.cancel();
  await clock.advance(1000);
  assert.equal(runs, 2);
});

Deno.test("setToken() keeps the token for the page when the browser refuses storage", () => {
  const storage = Object.getOwnPropertyDescriptor(globalThis, "localStorage");
  const refusing = {
    getItem: () => null,
    setItem: () => {
      throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
    },
    removeItem: () => {},
  };
  Object.defineProperty(globalThis, "localStorage", { value: refusing, configurable: true });
  try {
    setToken("tok-0123456789");
    assert.equal(getToken(), "tok-0123456789", "held in memory, not asked again");
    setToken("");
    assert.equal(getToken(), "");
    Object.defineProperty(globalThis, "localStorage", {
      get() {
        throw new DOMException("Access is denied", "SecurityError");
      },
      configurable: true,
    });
    setToken("tok-abcdefghij");
    assert.equal(getToken(), "tok-abcdefghij", "storage disabled altogether");
  } finally {
    if (storage) Object.defineProperty(globalThis, "localStorage", storage);
    else delete (globalThis as { localStorage?: unknown }).localStorage;
  }
});

Deno.test("a saved token a header cannot carry is not sent: reads still work", async () => {
  const realFetch = globalThis.fetch;
  const sent: (string | null)[] = [];
  // As browsers do, the headers are built first: a character beyond Latin-1 throws there.
  globalThis.fetch = (_url: string | URL | Request, init?: RequestInit) => {
    sent.push(new Headers(init?.headers).get("authorization"));
    return Promise.resolve(Response.json({ items: [] }));
  };
  try {
    setToken("tok\u2019en-0123456789"); // a curly quote pasted with it
    assert.deepEqual(await getJson("/api/anomalies"), { items: [] });
    setToken("tok-0123456789");
    await getJson("/api/anomalies");
    assert.deepEqual(sent, [null, "Bearer tok-0123456789"]);
  } finally {
    globalThis.fetch = realFetch;
    setToken("");
  }
});

Deno.test("tokenProblem() says why a pasted token cannot be one", () => {
  assert.equal(tokenProblem("Zm9vYmFyYmF6cXV4-_.~+/=="), null);
  assert.match(tokenProblem("tok\u2019en") ?? "", /only A-Z a-z 0-9/);
  assert.match(tokenProblem("two words") ?? "", /only A-Z a-z 0-9/);
  assert.match(tokenProblem("") ?? "", /empty/);
});
