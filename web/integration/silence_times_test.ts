/**
 * Silences whose `starts_at` is long past (any year from 1 the API takes) are answered and listed
 * with the time stored, also when the PostgreSQL server runs in a zone other than UTC: such a
 * time came back as `1800-01-01 00:09:21+00:09:21` (Europe/Paris's local mean time), which
 * `new Date` cannot read, so the silence was stored but answered 400, and every later list of
 * silences (the notifier's too) failed; years 1 to 99 were read as 1950 to 2049.
 */
import assert from "node:assert/strict";
import type postgres from "postgres";
import { connectPostgres } from "@vigil/shared/postgres";
import { getJson, sendJson, withWebApp } from "./_helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const TOKEN = "test-token-0123456789";
const AUTH = { authorization: `Bearer ${TOKEN}` };

Deno.test(
  "a silence starting in 1800 or year 50 is answered and listed as stored (server in Europe/Paris)",
  opts,
  async () => {
    let appSql: postgres.Sql | undefined;
    try {
      await withWebApp(async ({ app, sql }) => {
        const [db] = await sql<{ name: string }[]>`SELECT current_database() AS name`;
        await sql.unsafe(`ALTER DATABASE ${db!.name} SET timezone = 'Europe/Paris'`);
        const endsAt = new Date(Date.now() + 3_600_000).toISOString();
        const starts = ["1800-01-01T00:00:00.000Z", "0050-01-01T00:00:00.000Z"];
        for (const [i, startsAt] of starts.entries()) {
          const created = await sendJson(app, "POST", "/api/silences", {
            matchers: { entity: `e${i}` },
            starts_at: startsAt,
            ends_at: endsAt,
            author: "alice",
          }, AUTH);
          assert.equal(created.status, 201, JSON.stringify(created.body));
          const silence = created.body.silence as { starts_at: string; ends_at: string };
          assert.equal(silence.starts_at, startsAt);
          assert.equal(silence.ends_at, endsAt);
        }
        const list = await getJson(app, "/api/silences?active=true");
        assert.equal(list.status, 200, JSON.stringify(list.body));
        assert.deepEqual(
          (list.body.items as { starts_at: string }[]).map((s) => s.starts_at).sort(),
          [...starts].sort(),
        );
      }, { token: TOKEN, appSql: (url) => appSql = connectPostgres(url, { max: 2 }) });
    } finally {
      await appSql?.end({ timeout: 1 });
    }
  },
);
