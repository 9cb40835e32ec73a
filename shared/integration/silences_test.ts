import assert from "node:assert/strict";
import { withPg } from "@vigil/tools/testing/pg";
import { migrate } from "../migrate.ts";
import {
  activeSilences,
  createSilence,
  expireSilence,
  getSilence,
  listSilences,
} from "../silences.ts";

Deno.test("createSilence()/listSilences()/expireSilence()/activeSilences() round-trip", async () => {
  await withPg(async ({ sql }) => {
    await migrate(sql);
    const now = Date.now();
    const a = await createSilence(sql, {
      matchers: { entity: "api", severity: "CRITICAL" },
      duration: "1h",
      author: "ann",
      comment: "deploy",
    });
    const future = await createSilence(sql, {
      matchers: { rule: "cpu_high" },
      starts_at: new Date(now + 3_600_000).toISOString(),
      duration: "1h",
      author: "bob",
    });
    assert.deepEqual(a.matchers, { entity: "api", severity: "CRITICAL" });
    assert.equal(a.expired_at, null);
    assert.deepEqual((await activeSilences(sql, now + 1000)).map((s) => s.id), [a.id]);
    assert.deepEqual((await listSilences(sql, { active: true })).map((s) => s.id), [a.id]);
    assert.equal((await listSilences(sql)).length, 2);
    assert.deepEqual((await listSilences(sql, { active: false })).map((s) => s.id), [future.id]);

    const expired = await expireSilence(sql, a.id);
    assert.ok(expired?.expired_at);
    const again = await expireSilence(sql, a.id);
    assert.equal(again?.expired_at, expired.expired_at);
    assert.equal(await expireSilence(sql, "nope"), null);
    assert.deepEqual(await activeSilences(sql, Date.now() + 1000), []);
    assert.equal((await getSilence(sql, future.id))?.author, "bob");
    await assert.rejects(
      () => createSilence(sql, { matchers: {}, duration: "1h", author: "x" }),
      RangeError,
    );
  });
});
