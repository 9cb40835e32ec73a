/**
 * connectPostgres() against a real PostgreSQL whose database and role set
 * another DateStyle: timestamps still read back as written.
 */
import assert from "node:assert/strict";
import { createDatabase, TEST_DATABASE_URL, withPg } from "@vigil/tools/testing/pg";
import postgres from "postgres";
import { migrate } from "../migrate.ts";
import { connectPostgres } from "../postgres.ts";
import { latestRetentionRun, recordRetentionRun } from "../retention/runs.ts";

const AT = "2026-03-01T10:20:30.123Z";

Deno.test("connectPostgres() reads timestamps right under a database's or role's DateStyle", async () => {
  const db = await createDatabase();
  const role = `vigil_dmy_${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`;
  const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    await migrate(db.sql);
    // Set per database (an installation in Europe) and per role (German output).
    await admin.unsafe(`ALTER DATABASE ${db.database} SET datestyle = 'SQL, DMY';
      ALTER DATABASE ${db.database} SET timezone = 'Europe/Paris';
      CREATE ROLE ${role} LOGIN SUPERUSER;
      ALTER ROLE ${role} SET datestyle = 'German'`);
    const asRole = new URL(db.url);
    asRole.username = role;
    for (const url of [db.url, asRole.href]) {
      const sql = connectPostgres(url, { max: 1 });
      try {
        // Before (postgres() as the services called it): 2026-01-03T09:20:30.123Z, or Invalid Date.
        const [r] = await sql<{ t: Date }[]>`SELECT ${AT}::timestamptz AS t`;
        assert.equal(r?.t.toISOString(), AT);
        const [s] = await sql<{ style: string }[]>`SELECT current_setting('DateStyle') AS style`;
        assert.equal(s?.style, "ISO, MDY");
        await recordRetentionRun(sql, {
          started_at: AT,
          finished_at: AT,
          outcome: "done",
          deleted: {},
          unfinished: [],
          ages_ms: {},
          interval_ms: null,
        });
        assert.equal((await latestRetentionRun(sql))?.started_at, AT);
      } finally {
        await sql.end({ timeout: 5 });
      }
    }
  } finally {
    await db.drop();
    await admin.unsafe(`DROP ROLE IF EXISTS ${role}`);
    await admin.end({ timeout: 5 });
  }
});

Deno.test("every service opens PostgreSQL through connectPostgres()", async () => {
  const root = new URL("../../", import.meta.url);
  const offenders: string[] = [];
  async function walk(dir: URL, rel: string): Promise<void> {
    for await (const e of Deno.readDir(dir)) {
      if (e.name.startsWith(".") || e.name === "node_modules" || rel + e.name === "tools/testing") {
        continue;
      }
      if (e.isDirectory) await walk(new URL(`${e.name}/`, dir), `${rel}${e.name}/`);
      else if (e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) {
        const text = await Deno.readTextFile(new URL(e.name, dir));
        if (/\bpostgres\(/.test(text) && rel + e.name !== "shared/postgres.ts") {
          offenders.push(rel + e.name);
        }
      }
    }
  }
  await walk(root, "");
  // Before: detector, notifier, web and db:migrate each called postgres() without DateStyle.
  assert.deepEqual(offenders, []);
});

// Before: RangeError "Invalid time value" (Paris's local mean time before 1911), and 0050 as 1950.
Deno.test(
  "connectPostgres() reads back years 1 to 99 and 1800 in a database set to Europe/Paris",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    await withPg(async ({ sql, url, database }) => {
      await sql.unsafe(`ALTER DATABASE ${database} SET timezone = 'Europe/Paris'`);
      const client = connectPostgres(url, { max: 1 });
      try {
        const times = [
          "0001-01-01T00:00:00.000Z",
          "0050-06-15T12:00:00.000Z",
          "1800-01-01T00:00:00.000Z",
          "2026-03-01T10:20:30.123Z",
          "9999-12-31T23:59:59.999Z",
        ];
        for (const t of times) {
          const [row] = await client<{ t: Date; back: Date }[]>`
            SELECT ${t}::timestamptz AS t, ${new Date(t)} AS back`;
          assert.equal(row!.t.toISOString(), t);
          assert.equal(row!.back.toISOString(), t);
        }
      } finally {
        await client.end({ timeout: 1 });
      }
    });
  },
);
