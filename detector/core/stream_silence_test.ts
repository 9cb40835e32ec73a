import assert from "node:assert/strict";
import {
  adoptOpenStream,
  checkStream,
  createStreamSilence,
  WHOLE_STREAM,
} from "./stream_silence.ts";

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;
const config = { enabled: true, after: 5 * MIN, severity: "CRITICAL" as const };

Deno.test("checkStream() raises one alert for a quiet stream and resolves it when entries come back", () => {
  const state = createStreamSilence(T0);
  const last = T0 + MIN;
  assert.deepEqual(checkStream(state, "metrics", last, T0 + 5 * MIN, config), []);
  assert.deepEqual(checkStream(state, "metrics", last, last + 5 * MIN - 1, config), []);
  const [f] = checkStream(state, "metrics", last, last + 5 * MIN, config);
  assert.equal(f?.kind, "firing");
  if (f?.kind !== "firing") return;
  assert.equal(f.entity, WHOLE_STREAM);
  assert.equal(f.rule, "no_data");
  assert.equal(f.severity, "CRITICAL");
  assert.equal(f.eventTime, last + 5 * MIN);
  assert.equal(f.details.last_append, new Date(last).toISOString());
  assert.deepEqual(checkStream(state, "metrics", last, last + 60 * MIN, config), [], "once");
  const [r] = checkStream(state, "metrics", last + 61 * MIN, last + 61 * MIN, config);
  assert.deepEqual(r, {
    kind: "resolved",
    rule: "no_data",
    type: "metrics",
    entity: WHOLE_STREAM,
    severity: "CRITICAL",
    ids: [f.id],
    at: last + 61 * MIN,
  });
  // Same silence judged by another instance or after a restart: the same id.
  const other = createStreamSilence(T0);
  const [again] = checkStream(other, "metrics", last, last + 7 * MIN, config);
  assert.equal(again?.kind === "firing" && again.id, f.id);
});

Deno.test("checkStream() ignores a stream that never had an entry and counts from the start", () => {
  const state = createStreamSilence(T0 + 60 * MIN);
  assert.deepEqual(checkStream(state, "logs", null, T0 + 600 * MIN, config), []);
  // Last entry long before the detector started: judged from the start.
  assert.deepEqual(checkStream(state, "logs", T0, T0 + 64 * MIN, config), []);
  const [f] = checkStream(state, "logs", T0, T0 + 65 * MIN, config);
  assert.equal(f?.kind, "firing");
  assert.equal(f?.kind === "firing" && f.eventTime, T0 + 65 * MIN);
});

Deno.test("checkStream() resolves adopted alerts and one whose watch was switched off", () => {
  const state = createStreamSilence(T0);
  adoptOpenStream(state, "logs", { id: "a", lastAppend: T0 });
  adoptOpenStream(state, "logs", { id: "b", lastAppend: T0 + MIN });
  assert.deepEqual(checkStream(state, "logs", T0 + MIN, T0 + 30 * MIN, config), []);
  const [r] = checkStream(state, "logs", T0 + 31 * MIN, T0 + 31 * MIN, config);
  assert.deepEqual(r?.kind === "resolved" && r.ids, ["a", "b"]);

  adoptOpenStream(state, "metrics", { id: "c", lastAppend: T0 });
  const [off] = checkStream(state, "metrics", T0, T0 + 40 * MIN, { ...config, enabled: false });
  assert.deepEqual(off?.kind === "resolved" && [off.ids, off.at], [["c"], T0 + 40 * MIN]);
});

Deno.test("checkStream() goes by entries coming in, not by how the entry ids' clock compares with its own", async (t) => {
  await t.step(
    "a detector clock 6 min ahead of Redis's: no alert while entries keep coming",
    () => {
      // Entry ids carry Redis's clock; the detector's runs 6 min ahead. Every 10 s check saw a
      // stream "silent for 6 min", alerted, resolved at the next entry, alerted again: a CRITICAL
      // alert every 20 s for a stream that never stopped.
      const skew = 6 * MIN;
      const state = createStreamSilence(T0 + skew); // started (its clock) as the first check
      const findings = [];
      for (let s = 0; s <= 30 * 60; s += 10) {
        findings.push(...checkStream(state, "logs", T0 + s * 1000, T0 + skew + s * 1000, config));
      }
      assert.deepEqual(findings, []);
      // Once the entries stop, the alert comes `after` (5 min) of the detector's clock after the
      // check before the one that saw the last entry (it was appended between the two).
      const last = T0 + 30 * MIN;
      const before = last + skew - 10_000;
      assert.deepEqual(checkStream(state, "logs", last, before + 5 * MIN - 1, config), []);
      const [f] = checkStream(state, "logs", last, before + 5 * MIN, config);
      assert.equal(f?.kind === "firing" && f.eventTime, before + 5 * MIN);
    },
  );
  await t.step(
    "a Redis clock 20 min ahead: a stream that stops is caught after 5 min, not 25",
    () => {
      const skew = 20 * MIN;
      const state = createStreamSilence(T0);
      for (let s = 0; s <= 10 * 60; s += 10) {
        assert.deepEqual(
          checkStream(state, "logs", T0 + skew + s * 1000, T0 + s * 1000, config),
          [],
        );
      }
      const stopped = T0 + 10 * MIN; // the detector's clock when the last entry came
      const last = stopped + skew;
      assert.deepEqual(checkStream(state, "logs", last, stopped + 5 * MIN - 1, config), []);
      const [f] = checkStream(state, "logs", last, stopped + 5 * MIN, config);
      assert.equal(f?.kind, "firing");
    },
  );
});

Deno.test("checkStream(): the detector's clock stepped an hour or a day raises no alert for a live stream, and a stop is still caught in time", () => {
  const steps = [60 * MIN, 24 * 60 * MIN, -60 * MIN, -24 * 60 * MIN];
  for (const [step, at] of steps.flatMap((d) => [[d, 5 * 60], [d, 12 * 60]] as const)) {
    const state = createStreamSilence(T0);
    const findings = [];
    // Entries every second (Redis's clock) until 10 min, a check every 10 s; at `at` s the
    // detector's clock steps (NTP, a VM resumed). Before, after a step ahead the first check
    // took the entry appended since the check before as an hour old (a CRITICAL no_data
    // resolved 10 s later); after a step back the stop was told an hour (a day) late.
    const clock = (s: number) => T0 + s * 1000 + (s > at ? step : 0);
    const append = (s: number) => T0 + Math.min(s, 10 * 60) * 1000 - 500;
    let fired: number | null = null;
    for (let s = 0; s <= 30 * 60; s += 10) {
      const [f] = checkStream(state, "logs", append(s), clock(s), config);
      if (f) findings.push(f);
      if (f?.kind === "firing") fired ??= s;
    }
    const why = `stepped ${step / MIN} min at ${at} s`;
    assert.deepEqual(findings.map((f) => f.kind), ["firing"], why);
    // 5 min after the stop, or (the clock set back after it) 5 min after the step at the latest.
    assert.ok(fired! <= Math.max(10 * 60, at) + 5 * 60 + 10, `${why}: fired at ${fired} s`);
  }
});
