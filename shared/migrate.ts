/**
 * Versioned SQL migrations: `shared/migrations/NNN_name.sql`, applied in
 * order, recorded in `schema_migrations`. The pending ones run in one
 * transaction: one that fails rolls them all back, so the schema is never
 * left between two versions.
 * A PostgreSQL advisory lock makes concurrent starts safe. Every service
 * that uses PostgreSQL calls {@link migrate} at start; `deno task db:migrate`
 * runs it alone.
 *
 * @module
 */
import type postgres from "postgres";
import type { Logger } from "./log.ts";
import { connectionSettingsProblem } from "./postgres_errors.ts";
import { logRetry, retry } from "./retry.ts";

const LOCK_ID = 7_131_911; // arbitrary, constant: "vigil migrations"

/** One migration file. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Read `NNN_name.sql` files from `dir` (default: this module's `migrations/`). */
export async function loadMigrations(
  dir: string | URL = new URL("./migrations/", import.meta.url),
): Promise<Migration[]> {
  const out: Migration[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const m = /^(\d+)_([\w-]+)\.sql$/.exec(entry.name);
    if (!entry.isFile || !m) continue;
    const path = typeof dir === "string" ? `${dir}/${entry.name}` : new URL(entry.name, dir);
    out.push({ version: Number(m[1]), name: m[2]!, sql: await Deno.readTextFile(path) });
  }
  out.sort((a, b) => a.version - b.version);
  for (let i = 1; i < out.length; i++) {
    if (out[i]!.version === out[i - 1]!.version) {
      throw new Error(`Cannot migrate: two migrations have version ${out[i]!.version}`);
    }
  }
  return out;
}

/** Apply pending migrations; returns the versions applied now. */
export async function migrate(
  sql: postgres.Sql,
  options: { log?: Logger; migrations?: Migration[] } = {},
): Promise<number[]> {
  const migrations = options.migrations ?? await loadMigrations();
  const applied: number[] = [];
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${LOCK_ID})`;
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`;
    const done = new Set(
      (await tx<{ version: number }[]>`SELECT version FROM schema_migrations`).map((r) =>
        r.version
      ),
    );
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await tx.unsafe(m.sql);
      await tx`INSERT INTO schema_migrations (version, name) VALUES (${m.version}, ${m.name})`;
      applied.push(m.version);
    }
  });
  // Only once committed: a later migration failing rolls back the earlier ones too.
  for (const m of migrations) {
    if (applied.includes(m.version)) {
      options.log?.info("migration applied", { version: m.version, name: m.name });
    }
  }
  return applied;
}

/**
 * {@link migrate} at a service's start: retried while PostgreSQL cannot be
 * reached (it may start after the service), until `signal` aborts (rejects
 * with its reason). When PostgreSQL answers but refuses DATABASE_URL's user,
 * password or database, waiting will not help: rejects at once with an
 * Error that says what to fix.
 */
export async function migrateAtStart(
  sql: postgres.Sql,
  options: { log: Logger; signal?: AbortSignal; migrations?: Migration[] },
): Promise<number[]> {
  const { log, signal, migrations } = options;
  try {
    return await retry(() => migrate(sql, { log, ...(migrations ? { migrations } : {}) }), {
      ...(signal ? { signal } : {}),
      baseMs: 250,
      capMs: 5000,
      isRetryable: (error) => connectionSettingsProblem(error) === undefined,
      onRetry: logRetry(log, "apply migrations"),
    });
  } catch (error) {
    const problem = connectionSettingsProblem(error);
    throw problem ? new Error(problem, { cause: error }) : error;
  }
}
