import assert from "node:assert/strict";
import { type NotificationFigures, summarizeNotifications } from "./notification_summary.ts";

const FROM = Date.parse("2025-03-01T11:00:00Z");
const TO = Date.parse("2025-03-01T12:00:00Z");

function counts(planned: number, sent: number, pending: number, failed: number, alerts: number) {
  return { planned, sent, pending, failed, alerts_sent: alerts };
}

Deno.test("summarizeNotifications() groups figures per route and channel, with totals", () => {
  const figures: NotificationFigures = {
    digests: [
      { route: "default", kind: "digest", digests: 3, alerts: 12 },
      { route: "payments", kind: "digest", digests: 1, alerts: 4 },
      { route: "payments", kind: "immediate", digests: 2, alerts: 2 },
      { route: "default", kind: "repeat", digests: 1, alerts: 5 },
    ],
    channels: [
      { route: "default", channel: "email", ...counts(4, 3, 1, 0, 12) },
      { route: "payments", channel: "email", ...counts(3, 3, 0, 0, 6) },
      { route: "payments", channel: "discord", ...counts(3, 1, 1, 1, 2) },
    ],
    waiting: [{ route: "default", alerts: 7 }, { route: "auth", alerts: 2 }],
    intake: [
      { disposition: "grouped", alerts: 30 },
      { disposition: "silenced", alerts: 4 },
      { disposition: "duplicate", alerts: 1 },
    ],
  };
  const s = summarizeNotifications(figures, { fromMs: FROM, toMs: TO });
  assert.equal(s.from, "2025-03-01T11:00:00.000Z");
  assert.equal(s.to, "2025-03-01T12:00:00.000Z");
  assert.equal(s.window_ms, 3_600_000);
  // Routes by name, the default route last; a route with only waiting alerts is listed.
  assert.deepEqual(s.routes.map((r) => r.route), ["auth", "payments", "default"]);
  assert.deepEqual(s.routes[1], {
    route: "payments",
    digests: 3,
    digests_by_kind: { digest: 1, immediate: 2 },
    alerts_in_digests: 6,
    waiting_alerts: 0,
    channels: [
      { channel: "discord", ...counts(3, 1, 1, 1, 2) },
      { channel: "email", ...counts(3, 3, 0, 0, 6) },
    ],
  });
  assert.deepEqual(s.routes[2]!.digests_by_kind, { digest: 3, repeat: 1 });
  assert.equal(s.routes[2]!.waiting_alerts, 7);
  assert.deepEqual(s.routes[0]!.channels, []);
  assert.deepEqual(s.channels, [
    { channel: "discord", ...counts(3, 1, 1, 1, 2) },
    { channel: "email", ...counts(7, 6, 1, 0, 18) },
  ]);
  assert.deepEqual(s.totals, { ...counts(10, 7, 2, 1, 20), digests: 7, waiting_alerts: 9 });
  assert.deepEqual(s.intake, {
    alerts: 35,
    by_disposition: { grouped: 30, silenced: 4, duplicate: 1 },
  });
});

Deno.test("summarizeNotifications() of nothing is all zeros", () => {
  const s = summarizeNotifications({ digests: [], channels: [], waiting: [], intake: [] }, {
    fromMs: FROM,
    toMs: TO,
  });
  assert.deepEqual(s.routes, []);
  assert.deepEqual(s.channels, []);
  assert.deepEqual(s.totals, { ...counts(0, 0, 0, 0, 0), digests: 0, waiting_alerts: 0 });
  assert.deepEqual(s.intake, { alerts: 0, by_disposition: {} });
});

Deno.test("summarizeNotifications() adds up a channel repeated within a route", () => {
  const s = summarizeNotifications({
    digests: [],
    channels: [
      { route: "r", channel: "email", ...counts(1, 1, 0, 0, 1) },
      { route: "r", channel: "email", ...counts(2, 0, 2, 0, 0) },
    ],
    waiting: [],
    intake: [],
  }, { fromMs: FROM, toMs: TO });
  assert.deepEqual(s.routes[0]!.channels, [{ channel: "email", ...counts(3, 1, 2, 0, 1) }]);
});

Deno.test("summarizeNotifications() refuses an empty or reversed window", () => {
  const empty = { digests: [], channels: [], waiting: [], intake: [] };
  assert.throws(() => summarizeNotifications(empty, { fromMs: TO, toMs: TO }), RangeError);
  assert.throws(() => summarizeNotifications(empty, { fromMs: TO, toMs: FROM }), RangeError);
});
