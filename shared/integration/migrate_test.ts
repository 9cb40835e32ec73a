import assert from "node:assert/strict";
import postgres from "postgres";
import { loadMigrations, migrate, migrateAtStart } from "../migrate.ts";
import { createLogger } from "../log.ts";
import { TEST_DATABASE_URL, withPg } from "@vigil/tools/testing/pg";
import { waitFor } from "@vigil/tools/testing/wait";

Deno.test("migrate() applies every migration once, even when started concurrently", async () => {
  await withPg(async ({ sql, url }) => {
    const all = await loadMigrations();
    assert.ok(all.length >= 2);
    const other = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const [a, b] = await Promise.all([migrate(sql), migrate(other)]);
      assert.deepEqual([...a, ...b].sort((x, y) => x - y), all.map((m) => m.version));
      assert.deepEqual(await migrate(sql), []);
      const rows = await sql`SELECT version FROM schema_migrations ORDER BY version`;
      assert.deepEqual(rows.map((r) => r.version), all.map((m) => m.version));
      const [t] = await sql`SELECT to_regclass('anomaly_events') AS t`;
      assert.equal(t?.t, "anomaly_events");
    } finally {
      await other.end({ timeout: 5 });
    }
  });
});

Deno.test("migrate() started concurrently applies every migration once under a stricter default isolation", async () => {
  await withPg(async ({ sql, url, database }) => {
    // Set on the database or role (a team's default). Before: a waiting migrator read
    // schema_migrations in a snapshot taken before the other's commit, applied every migration
    // again and stopped: "migration 1 (anomaly_events) failed with SQLSTATE 42P07".
    await sql.unsafe(
      `ALTER DATABASE ${database} SET default_transaction_isolation = 'repeatable read'`,
    );
    const all = await loadMigrations();
    const a = postgres(url, { max: 1, onnotice: () => {} });
    const b = postgres(url, { max: 1, onnotice: () => {} });
    const holder = await sql.reserve();
    try {
      await holder`BEGIN`;
      await holder`SELECT pg_advisory_xact_lock(7131911)`;
      const both = Promise.allSettled([migrate(a), migrate(b)]);
      await waitFor(async () =>
        (await sql<{ n: number }[]>`
          SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = ${database} AND wait_event = 'advisory'`)[0]?.n === 2, {
        what: "both migrators waiting for the lock",
      });
      await holder`COMMIT`;
      const [ra, rb] = await both;
      assert.equal(ra.status, "fulfilled", String((ra as PromiseRejectedResult).reason));
      assert.equal(rb.status, "fulfilled", String((rb as PromiseRejectedResult).reason));
      const applied = [...ra.value, ...rb.value].sort((x, y) => x - y);
      assert.deepEqual(applied, all.map((m) => m.version));
    } finally {
      await holder`ROLLBACK`; // nothing when committed
      holder.release();
      await a.end({ timeout: 5 });
      await b.end({ timeout: 5 });
    }
  });
});

Deno.test("loadMigrations() refuses a .sql file not named NNN_name.sql", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/001_base.sql`, "CREATE TABLE t1 (x int)");
    await Deno.writeTextFile(`${dir}/README.md`, "not a migration");
    assert.deepEqual((await loadMigrations(dir)).map((m) => m.version), [1]);
    // Before: skipped without a word, so the change it makes never reached any database.
    for (const name of ["002-add_y.sql", "002_add.y.sql", "002_add_y.SQL"]) {
      await Deno.writeTextFile(`${dir}/${name}`, "ALTER TABLE t1 ADD y int");
      await assert.rejects(
        loadMigrations(dir),
        new RegExp(
          `^Error: Cannot migrate: ${name.replaceAll(".", "\\.")} is not named NNN_name\\.sql`,
        ),
      );
      await Deno.remove(`${dir}/${name}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("migrate() rolls back a failing migration and records nothing", async () => {
  await withPg(async ({ sql }) => {
    const lines: { msg: string; version?: number }[] = [];
    const log = createLogger({
      service: "t",
      level: "info",
      write: (l) => lines.push(JSON.parse(l)),
    });
    const bad = [
      { version: 1, name: "ok", sql: "CREATE TABLE t1 (x int)" },
      { version: 2, name: "bad", sql: "CREATE TABLE t2 (x nonexistent_type)" },
    ];
    await assert.rejects(migrate(sql, { log, migrations: bad }));
    const [r] = await sql`SELECT to_regclass('t1') AS t, to_regclass('schema_migrations') AS m`;
    assert.equal(r?.t, null);
    assert.equal(r?.m, null);
    // Before: "migration applied" was logged for version 1, which the rollback undid.
    assert.deepEqual(lines.filter((l) => l.msg === "migration applied"), []);
    // Logged once committed.
    assert.deepEqual(await migrate(sql, { log, migrations: bad.slice(0, 1) }), [1]);
    assert.deepEqual(
      lines.filter((l) => l.msg === "migration applied").map((l) => l.version),
      [1],
    );
  });
});

Deno.test("migrate() with nothing pending needs no right to create: a user limited to rows starts", async () => {
  // Migrated by `deno task db:migrate` as the owner; the services run as a user that may only
  // read and write rows. Before: every start ran CREATE TABLE IF NOT EXISTS schema_migrations,
  // refused ("permission denied for schema public"), so no service could start.
  const role = `vigil_rows_${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`;
  const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE ROLE ${role} LOGIN PASSWORD 'rows'`);
  try {
    await withPg(async ({ sql, url, database }) => {
      await migrate(sql);
      await sql.unsafe(`REVOKE CREATE ON SCHEMA public FROM PUBLIC;
        GRANT CONNECT ON DATABASE ${database} TO ${role};
        GRANT USAGE ON SCHEMA public TO ${role};
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role};
        GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
      const u = new URL(url);
      u.username = role;
      u.password = "rows";
      const limited = postgres(u.href, { max: 1, onnotice: () => {} });
      try {
        assert.deepEqual(await migrate(limited), []);
        // A pending migration still needs the right, and says so, naming it, at once.
        const next = { version: 999_999, name: "next", sql: "CREATE TABLE t_next (x int)" };
        const log = createLogger({ service: "t", level: "warn", write: () => {} });
        const started = performance.now();
        await assert.rejects(
          migrateAtStart(limited, { log, migrations: [...await loadMigrations(), next] }),
          /^MigrationFailedError: Cannot migrate: migration 999999 \(next\) failed with SQLSTATE 42501: permission denied for schema public: .*run `deno task db:migrate` as a user with the right to create tables.*"Rights"/,
        );
        assert.ok(performance.now() - started < 2000, "not retried");
      } finally {
        await limited.end({ timeout: 5 });
      }
    });
  } finally {
    await admin.unsafe(`DROP ROLE IF EXISTS ${role}`);
    await admin.end({ timeout: 5 });
  }
});

Deno.test("migrate() says so when a schema earlier in search_path hides the tables", async () => {
  await withPg(async ({ sql }) => {
    await migrate(sql);
    // A schema named after the user ("$user", first in the default search_path) created later:
    // the migrations go there (as a deliberate second installation in its own schema would),
    // and its empty tables hide the data from every service. Before: not a word.
    const [me] = await sql<{ u: string }[]>`SELECT current_user AS u`;
    await sql.unsafe(`CREATE SCHEMA "${me!.u}"`);
    const lines: { level: string; msg: string; schema?: string; other?: string }[] = [];
    const log = createLogger({
      service: "t",
      level: "warn",
      write: (l) => lines.push(JSON.parse(l)),
    });
    assert.equal((await migrate(sql, { log })).length, (await loadMigrations()).length);
    assert.deepEqual(
      lines.map((l) => [l.msg, l.schema, l.other]),
      [[
        "created the tables in the first schema of search_path, but a later one already has them",
        me!.u,
        "public",
      ]],
    );
    lines.length = 0;
    assert.deepEqual(await migrate(sql, { log }), []);
    assert.deepEqual(lines, [], "said once, when the tables are created");
  });
});

Deno.test("migrate() warns when the database was migrated by a newer version of the code", async () => {
  await withPg(async ({ sql }) => {
    const all = await loadMigrations();
    await migrate(sql);
    const lines: { level: string; msg: string; unknown?: number[]; latest?: number }[] = [];
    const log = createLogger({
      service: "t",
      level: "info",
      write: (l) => lines.push(JSON.parse(l)),
    });
    // A rolled-back deploy: this code knows one migration fewer than the database has.
    assert.deepEqual(await migrate(sql, { log, migrations: all.slice(0, -1) }), []);
    const warned = lines.filter((l) => l.level === "warn");
    assert.equal(warned.length, 1, JSON.stringify(lines));
    assert.match(warned[0]!.msg, /newer/);
    assert.deepEqual(warned[0]!.unknown, [all.at(-1)!.version]);
    assert.equal(warned[0]!.latest, all.at(-2)!.version);
    lines.length = 0;
    assert.deepEqual(await migrate(sql, { log, migrations: all }), []);
    assert.deepEqual(lines, [], "nothing to say when the code knows every migration");
  });
});

Deno.test("migrate() refuses a database whose migration N has another name, and migrateAtStart() stops at once", async () => {
  await withPg(async ({ sql }) => {
    const mine = [
      { version: 1, name: "base", sql: "CREATE TABLE t1 (x int)" },
      { version: 2, name: "add_y", sql: "ALTER TABLE t1 ADD y int" },
    ];
    // Another branch's 2 made another change, then this code (with a 3) starts on it.
    await migrate(sql, {
      migrations: [mine[0]!, { version: 2, name: "add_z", sql: "ALTER TABLE t1 ADD z text" }],
    });
    const next = { version: 3, name: "t3", sql: "CREATE TABLE t3 (x int)" };
    const message =
      /^MigrationConflictError: Cannot migrate: the database was migrated by another version or branch of Vigil: version 2 is recorded as "add_z", this code's is "add_y"\. .*UPDATE schema_migrations SET name = 'add_y' WHERE version = 2$/;
    // Before: accepted silently (3 applied, t1 without y: queries of y failed later).
    await assert.rejects(migrate(sql, { migrations: [...mine, next] }), message);
    const [r] = await sql`SELECT to_regclass('t3') AS t3`;
    assert.equal(r?.t3, null, "nothing applied");
    const lines: string[] = [];
    const log = createLogger({ service: "t", level: "warn", write: (l) => lines.push(l) });
    const started = performance.now();
    const error = await migrateAtStart(sql, { log, migrations: [...mine, next] })
      .then(() => undefined, (e: unknown) => e);
    assert.equal((error as Error).name, "MigrationConflictError", String(error));
    assert.deepEqual((error as { conflicts?: unknown }).conflicts, [{
      version: 2,
      recorded: "add_z",
      expected: "add_y",
    }]);
    assert.ok(performance.now() - started < 2000, "not retried");
    assert.deepEqual(lines, []);
  });
});

Deno.test("migrate() is not cut by a statement_timeout set for the services' queries", async () => {
  await withPg(async ({ sql, url, database }) => {
    // A managed database's guard for the application's queries; a migration rewriting or
    // indexing a large table takes longer. Before: cancelled and rolled back at every start.
    await sql.unsafe(`ALTER DATABASE ${database} SET statement_timeout = '300ms'`);
    const guarded = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const long = {
        version: 1,
        name: "long",
        sql: "SELECT pg_sleep(0.6); CREATE TABLE t1 (x int)",
      };
      assert.deepEqual(await migrate(guarded, { migrations: [long] }), [1]);
      const [r] = await guarded<{ t: string }[]>`SELECT current_setting('statement_timeout') AS t`;
      assert.equal(r?.t, "300ms", "the services' own queries keep it");
    } finally {
      await guarded.end({ timeout: 5 });
    }
  });
});

Deno.test("migrate() waits for another migrator however long, also under a lock_timeout set for the services' queries", async () => {
  await withPg(async ({ sql, url, database }) => {
    // A guard for the application's queries; another service's migrations take longer.
    // Before: the wait for the advisory lock was cut at 200 ms, logged as a table in use and
    // tried again and again while the other migrator ran.
    await sql.unsafe(`ALTER DATABASE ${database} SET lock_timeout = '200ms'`);
    const guarded = postgres(url, { max: 1, onnotice: () => {} });
    const lines: { msg: string }[] = [];
    const log = createLogger({
      service: "t",
      level: "warn",
      write: (l) => lines.push(JSON.parse(l)),
    });
    const other = await sql.reserve(); // another service, migrating
    let migrating: Promise<number[]> | undefined;
    try {
      await other`BEGIN`;
      await other`SELECT pg_advisory_xact_lock(7131911)`;
      const m = { version: 1, name: "t", sql: "CREATE TABLE t1 (x int)" };
      migrating = migrate(guarded, { log, migrations: [m] });
      // One wait of a second, five times the lock_timeout, without being cut.
      await waitFor(async () =>
        (await sql<{ n: number }[]>`
          SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = ${database} AND wait_event = 'advisory'
            AND now() - query_start > interval '1 second'`)[0]?.n === 1, {
        timeoutMs: 10_000,
        what: "a wait for the advisory lock of more than a second",
      });
      await other`COMMIT`;
      assert.deepEqual(await migrating, [1]);
      assert.deepEqual(lines.map((l) => l.msg), []);
      const [r] = await guarded<{ t: string }[]>`SELECT current_setting('lock_timeout') AS t`;
      assert.equal(r?.t, "200ms", "the services' own queries keep it");
    } finally {
      await other`ROLLBACK`; // nothing when committed
      other.release();
      await guarded.end({ timeout: 0 });
      await migrating?.catch(() => {});
    }
  });
});

Deno.test("migrate() waiting for a table lock does not stall the table's readers", async () => {
  await withPg(async ({ sql, database }) => {
    const all = await loadMigrations();
    await migrate(sql);
    const next = { version: 999_999, name: "alter", sql: "ALTER TABLE anomaly_events ADD x int" };
    const lines: { msg: string }[] = [];
    const log = createLogger({
      service: "t",
      level: "warn",
      write: (l) => lines.push(JSON.parse(l)),
    });
    // A long transaction that read the table (a pg_dump, a report): the pending ALTER TABLE
    // waits for it, and every query of the table queues behind the ALTER.
    const holder = await sql.reserve();
    let migrating: Promise<number[]> | undefined;
    try {
      await holder`BEGIN`;
      await holder`SELECT count(*) FROM anomaly_events`;
      migrating = migrate(sql, { log, migrations: [...all, next] });
      // The ALTER TABLE queued behind the holder (however long the migrator takes to get there).
      await waitFor(async () =>
        (await sql<{ n: number }[]>`
          SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = ${database} AND wait_event_type = 'Lock'
            AND query LIKE 'ALTER TABLE anomaly_events ADD x int%'`)[0]?.n === 1, {
        intervalMs: 20,
        what: "the migration's ALTER TABLE waiting for the table",
      });
      const started = performance.now();
      // Before: blocked until the holder ends (here cut by the statement timeout at 4 s).
      await sql.begin(async (tx) => {
        await tx`SET LOCAL statement_timeout = '4s'`;
        await tx`SELECT count(*) FROM anomaly_events`;
      });
      const waited = performance.now() - started;
      assert.ok(waited < 3500, `reader waited ${waited} ms`);
      await holder`COMMIT`;
    } finally {
      holder.release();
    }
    // Tried again until it had the lock.
    assert.deepEqual(await migrating, [999_999]);
    assert.ok(lines.some((l) => l.msg.startsWith("cannot apply migrations: a table is in use")));
  });
});

Deno.test("migrateAtStart() stops at once on a refused DATABASE_URL and waits for an unreachable one", async () => {
  await withPg(async ({ url }) => {
    const lines: string[] = [];
    const log = createLogger({ service: "t", level: "warn", write: (l) => lines.push(l) });
    const at = (change: (u: URL) => void) => {
      const u = new URL(url);
      change(u);
      return postgres(u.href, { max: 1, onnotice: () => {}, connect_timeout: 5 });
    };
    const cases: [string, (u: URL) => void, RegExp][] = [
      [
        "unknown role",
        (u) => u.username = "vigil_no_such_role",
        /^ConfigError: PostgreSQL refused DATABASE_URL: role "vigil_no_such_role" does not exist: fix the user or password/,
      ],
      [
        "no such database",
        (u) => u.pathname = "/vigil_no_such_db",
        /^ConfigError: PostgreSQL refused DATABASE_URL: database "vigil_no_such_db" does not exist: fix the database name/,
      ],
      [
        "search_path naming no schema that exists",
        (u) => u.searchParams.set("search_path", "vigil_no_such_schema"),
        /^ConfigError: PostgreSQL refused DATABASE_URL: no schema has been selected to create in: fix search_path/,
      ],
    ];
    for (const [name, change, message] of cases) {
      const sql = at(change);
      try {
        const started = performance.now();
        await assert.rejects(migrateAtStart(sql, { log }), message, name);
        assert.ok(performance.now() - started < 5000, `${name}: not retried`);
      } finally {
        await sql.end({ timeout: 1 });
      }
    }
    assert.equal(lines.length, 0, `no retry line for a refused URL: ${lines.join("\n")}`);

    // Nothing listening: retried (one warning per attempt) until the signal aborts.
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (closed.addr as Deno.NetAddr).port;
    closed.close();
    const sql = at((u) => u.port = String(port));
    try {
      const stop = new AbortController();
      setTimeout(() => stop.abort(new Error("stopped")), 1500);
      await assert.rejects(migrateAtStart(sql, { log, signal: stop.signal }), /^Error: stopped$/);
      const retries = lines.filter((l) => l.includes("cannot apply migrations, retrying"));
      assert.ok(retries.length >= 2, lines.join("\n"));
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});

Deno.test("migrateAtStart() stops at once on a migration that can never succeed, naming it", async () => {
  await withPg(async ({ sql }) => {
    const base = { version: 1, name: "base", sql: "CREATE TABLE t1 (x int)" };
    await migrate(sql, { migrations: [base] });
    await sql`INSERT INTO t1 VALUES (1), (1), (-1)`;
    const lines: string[] = [];
    const log = createLogger({ service: "t", level: "warn", write: (l) => lines.push(l) });
    const cases: [string, string, RegExp][] = [
      [
        "syntax error",
        "ALTER TABLE t1 ADD y int; CREAT INDEX t1_y ON t1 (y)",
        /SQLSTATE 42601: syntax error at or near "CREAT": it does not fit this database/,
      ],
      [
        "undefined column",
        "CREATE INDEX t1_z ON t1 (z)",
        /SQLSTATE 42703: column "z" does not exist: it does not fit this database/,
      ],
      [
        "unique_violation",
        "CREATE UNIQUE INDEX t1_x ON t1 (x)",
        /SQLSTATE 23505: could not create unique index "t1_x": rows in the database break what it requires: fix the data/,
      ],
      [
        "check_violation",
        "ALTER TABLE t1 ADD CONSTRAINT t1_pos CHECK (x > 0)",
        /SQLSTATE 23514: check constraint "t1_pos" of relation "t1" is violated by some row: .*fix the data/,
      ],
    ];
    for (const [name, bad, message] of cases) {
      const started = performance.now();
      // Before: retried for ever, one "cannot apply migrations, retrying" line every 5 s.
      const error = await migrateAtStart(sql, {
        log,
        signal: AbortSignal.timeout(3000), // ends the retries of the code before
        migrations: [base, { version: 2, name: "ok", sql: "CREATE TABLE t2 (x int)" }, {
          version: 3,
          name: "bad_one",
          sql: bad,
        }],
      }).then(() => undefined, (e: unknown) => e);
      assert.ok(performance.now() - started < 2000, `${name}: not retried`);
      assert.match(
        String(error),
        /^MigrationFailedError: Cannot migrate: migration 3 \(bad_one\) failed with SQLSTATE /,
        name,
      );
      assert.match(String(error), message, name);
      assert.equal((error as { version?: number }).version, 3);
      const [r] = await sql`SELECT to_regclass('t2') AS t2`;
      assert.equal(r?.t2, null, `${name}: nothing applied`);
    }
    assert.equal(lines.length, 0, lines.join("\n"));

    // A transient error (here a serialization failure every time) is still retried.
    const flaky = {
      version: 2,
      name: "flaky",
      sql: "DO $$ BEGIN RAISE EXCEPTION 'busy' USING ERRCODE = 'serialization_failure'; END $$",
    };
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error("stopped")), 1500);
    await assert.rejects(
      migrateAtStart(sql, { log, signal: stop.signal, migrations: [base, flaky] }),
      /^Error: stopped$/,
    );
    assert.ok(lines.filter((l) => l.includes("retrying")).length >= 2, lines.join("\n"));
  });
});
