import assert from "node:assert/strict";
import { type EntityFacts, entityState } from "./entity.ts";

const NONE: EntityFacts = {
  anomalies: 0,
  open: 0,
  last_anomaly_at: null,
  last_event_at: null,
  types: [],
};

Deno.test("entityState() is firing while an anomaly is open, resolved once all cleared", () => {
  const facts: EntityFacts = {
    anomalies: 5,
    open: 2,
    last_anomaly_at: "2025-03-01T12:00:05.000Z",
    last_event_at: "2025-03-01T12:00:00.000Z",
    types: ["metrics"],
  };
  assert.deepEqual(entityState(facts, []), {
    status: "firing",
    anomalies: 5,
    open: 2,
    last_anomaly_at: "2025-03-01T12:00:05.000Z",
    last_seen_at: "2025-03-01T12:00:00.000Z",
  });
  assert.equal(entityState({ ...facts, open: 0 }, []).status, "resolved");
  assert.equal(entityState(NONE, []).status, "quiet");
});

Deno.test("entityState() takes last seen from the newest cached point or anomaly event", () => {
  const t = Date.parse("2025-03-01T12:00:00Z");
  const series = [{ points: [{ ts: t - 5000 }, { ts: t + 30_000 }] }, { points: [{ ts: t }] }];
  assert.equal(
    entityState({ ...NONE, last_event_at: new Date(t).toISOString() }, series).last_seen_at,
    "2025-03-01T12:00:30.000Z",
  );
  assert.equal(
    entityState({ ...NONE, last_event_at: new Date(t + 60_000).toISOString() }, series)
      .last_seen_at,
    "2025-03-01T12:01:00.000Z",
  );
  assert.equal(entityState(NONE, []).last_seen_at, null);
  assert.equal(entityState(NONE, [{ points: [] }]).last_seen_at, null);
});
