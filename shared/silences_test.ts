import assert from "node:assert/strict";
import { silenceInputSchema } from "./schemas/silence.ts";
import {
  resolveSilenceInput,
  silenceMatches,
  silencesDue,
  silenceState,
  type SilenceWindow,
} from "./silences.ts";

const T0 = Date.parse("2025-01-01T10:00:00Z");
const alert = { type: "metrics", rule: "cpu_high", entity: "api", severity: "CRITICAL" } as const;

function silence(over: Partial<SilenceWindow> = {}): SilenceWindow {
  return {
    matchers: { entity: "api" },
    starts_at: new Date(T0).toISOString(),
    ends_at: new Date(T0 + 3_600_000).toISOString(),
    expired_at: null,
    ...over,
  };
}

Deno.test("silenceMatches() mutes only matching alerts inside the window", async (t) => {
  await t.step("matching entity, inside window", () => {
    assert.equal(silenceMatches(silence(), alert, T0 + 1000), true);
  });
  await t.step("other entity", () => {
    assert.equal(silenceMatches(silence(), { ...alert, entity: "db" }, T0 + 1000), false);
  });
  await t.step("all matchers must hold", () => {
    const s = silence({ matchers: { entity: "api", severity: "WARNING" } });
    assert.equal(silenceMatches(s, alert, T0 + 1000), false);
    const s2 = silence({
      matchers: { entity: "api", severity: "CRITICAL", rule: "cpu_high", type: "metrics" },
    });
    assert.equal(silenceMatches(s2, alert, T0 + 1000), true);
  });
  await t.step("before start and at end", () => {
    assert.equal(silenceMatches(silence(), alert, T0 - 1), false);
    assert.equal(silenceMatches(silence(), alert, T0 + 3_600_000), false);
  });
  await t.step("expired early", () => {
    const s = silence({ expired_at: new Date(T0 + 60_000).toISOString() });
    assert.equal(silenceMatches(s, alert, T0 + 59_999), true);
    assert.equal(silenceMatches(s, alert, T0 + 60_000), false);
    assert.equal(silenceState(s, T0 + 60_000), "expired");
  });
  await t.step("empty matchers never mute", () => {
    assert.equal(silenceMatches(silence({ matchers: {} }), alert, T0 + 1000), false);
  });
});

Deno.test("silenceInputSchema rejects bodies without matchers or end", () => {
  assert.equal(
    silenceInputSchema.safeParse({ matchers: {}, duration: "1h", author: "a" }).success,
    false,
  );
  assert.equal(
    silenceInputSchema.safeParse({ matchers: { rule: "x" }, author: "a" }).success,
    false,
  );
  assert.equal(
    silenceInputSchema.safeParse({ matchers: { rule: "x" }, duration: "1h", author: "a" }).success,
    true,
  );
  assert.equal(
    silenceInputSchema.safeParse({ matchers: { severity: "LOUD" }, duration: "1h", author: "a" })
      .success,
    false,
  );
});

Deno.test("silenceInputSchema refuses control and bidirectional characters in names, keeps comments free", () => {
  const body = (over: Record<string, unknown>) => ({
    matchers: { rule: "x" },
    duration: "1h",
    author: "ann",
    ...over,
  });
  const problem = (over: Record<string, unknown>) => {
    const r = silenceInputSchema.safeParse(body(over));
    return r.success ? null : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  };
  // U+202E shows "ann" + reversed text: the author would read as someone else.
  assert.deepEqual(problem({ author: "\u202eeva" }), [
    "author: bidirectional control U+202E at position 0 is not allowed",
  ]);
  assert.deepEqual(problem({ author: "ann\u0007" }), [
    "author: control character U+0007 at position 3 is not allowed",
  ]);
  assert.deepEqual(problem({ matchers: { entity: "api\nfake line" } }), [
    "matchers.entity: control character U+000A at position 3 is not allowed",
  ]);
  assert.equal(problem({ author: "  Zoë Ångström  ", comment: "two\nlines" }), null);
  assert.equal(silenceInputSchema.parse(body({ author: "  ann " })).author, "ann");
});

Deno.test("resolveSilenceInput() resolves duration from starts_at and rejects past ends", () => {
  const r = resolveSilenceInput({ matchers: { rule: "x" }, duration: "2h", author: "ann" }, T0);
  assert.equal(r.startsAt.getTime(), T0);
  assert.equal(r.endsAt.getTime(), T0 + 7_200_000);
  assert.equal(r.comment, "");
  assert.throws(
    () =>
      resolveSilenceInput({
        matchers: { rule: "x" },
        ends_at: new Date(T0 - 1000).toISOString(),
        starts_at: new Date(T0 - 5000).toISOString(),
        author: "ann",
      }, T0),
    /Cannot create silence: ends_at is in the past/,
  );
  assert.throws(
    () =>
      resolveSilenceInput({ matchers: { rule: "x" }, duration: "99999999999h", author: "a" }, T0),
    /Cannot create silence: duration "99999999999h" is too long/,
  );
  // PostgreSQL refused a silence ending past year 9999 ("time zone displacement out of range"): a 500.
  assert.throws(
    () =>
      resolveSilenceInput({
        matchers: { rule: "x" },
        starts_at: "9999-12-31T23:59:59Z",
        duration: "1d",
        author: "a",
      }, T0),
    /^RangeError: Cannot create silence: duration "1d" is too long \(it would end after 9999-12-31\)$/,
  );
  assert.throws(
    () =>
      resolveSilenceInput(
        { matchers: { rule: "x" }, ends_at: "9999-12-31T23:59:59-12:00", author: "a" },
        T0,
      ),
    /^RangeError: Cannot create silence: ends_at is after 9999-12-31$/,
  );
  // And one starting before year 1 (year 0 in UTC, also from an offset): a 500 as well.
  for (const startsAt of ["0000-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00"]) {
    assert.throws(
      () =>
        resolveSilenceInput(
          {
            matchers: { rule: "x" },
            starts_at: startsAt,
            ends_at: "2099-01-01T00:00:00Z",
            author: "a",
          },
          T0,
        ),
      /^RangeError: Cannot create silence: starts_at is before 0001-01-01$/,
      startsAt,
    );
  }
  const last = resolveSilenceInput(
    { matchers: { rule: "x" }, ends_at: "9999-12-31T23:59:59.999Z", author: "a" },
    T0,
  );
  assert.equal(last.endsAt.toISOString(), "9999-12-31T23:59:59.999Z");
  assert.throws(
    () => resolveSilenceInput({ matchers: {}, duration: "1h", author: "ann" }, T0),
    /Cannot create silence: matchers/,
  );
});

Deno.test("silencesDue() re-reads after a second, and at once after the clock was set back", () => {
  assert.equal(silencesDue(-Infinity, T0), true, "never read");
  assert.equal(silencesDue(T0, T0 + 999), false);
  assert.equal(silencesDue(T0, T0 + 1000), true);
  // The clock set back an hour: a silence created meanwhile must not wait an hour.
  assert.equal(silencesDue(T0, T0 - 60 * 60_000), true);
});
