/**
 * Versioned SQL migrations: `shared/migrations/NNN_name.sql`, applied in
 * order, recorded in `schema_migrations`. The pending ones run in one
 * (read committed) transaction: one that fails rolls them all back, so the
 * schema is never left between two versions.
 * A PostgreSQL advisory lock makes concurrent starts safe; a table lock not had
 * within {@link TABLE_LOCK_TIMEOUT} rolls back and tries again, so a pending
 * ALTER TABLE never queues the table's readers behind a long transaction.
 * No statement_timeout applies to them, nor a lock_timeout to the wait for
 * another migrator (a database's or role's are for the services' queries).
 * A version recorded under another name than this code's file of it (another
 * branch's migration N) is refused: {@link MigrationConflictError}.
 * A migration PostgreSQL refuses for good (its SQL, the data, the rights) is
 * reported with its version and name: {@link MigrationFailedError}.
 * Every service that uses PostgreSQL calls {@link migrate} at start;
 * `deno task db:migrate` runs it alone.
 *
 * @module
 */
import type postgres from "postgres";
import type { Logger } from "./log.ts";
import { connectionSettingsProblem, isTransientSqlState } from "./postgres_errors.ts";
import { logRetry, retry } from "./retry.ts";
import { ConfigError } from "./config.ts";

const LOCK_ID = 7_131_911; // arbitrary, constant: "vigil migrations"
/**
 * Most time a migration waits for a table lock (not the advisory lock, which waits as long as
 * another migrator runs): a lock requested behind a long transaction (a pg_dump) makes every
 * query of the table queue behind it until it is granted.
 */
export const TABLE_LOCK_TIMEOUT = "2s";
/** SQLSTATE lock_not_available: {@link TABLE_LOCK_TIMEOUT} ran out. */
const LOCK_NOT_AVAILABLE = "55P03";

/**
 * A version recorded in `schema_migrations` under another name than this code's file of that
 * version: the database was migrated by another version or branch of Vigil, whose migration
 * N made a different change. Waiting will not help; {@link migrateAtStart} rejects at once.
 */
export class MigrationConflictError extends Error {
  /** The versions that differ, with the recorded name and this code's. */
  readonly conflicts: { version: number; recorded: string; expected: string }[];
  constructor(conflicts: { version: number; recorded: string; expected: string }[]) {
    const list = conflicts.map((c) =>
      `version ${c.version} is recorded as "${c.recorded}", this code's is "${c.expected}"`
    ).join("; ");
    const [first] = conflicts;
    super(
      `Cannot migrate: the database was migrated by another version or branch of Vigil: ${list}. ` +
        "Run the code that migrated it or restore a backup from before; if both make the same " +
        `change, record this code's name: UPDATE schema_migrations SET name = '${first?.expected}' ` +
        `WHERE version = ${first?.version}`,
    );
    this.name = "MigrationConflictError";
    this.conflicts = conflicts;
  }
}

/**
 * A migration PostgreSQL refused for a reason that waiting will not cure: an error in its SQL or
 * a schema changed by hand (SQLSTATE class 42), rows that break a constraint it adds (23, 22),
 * no right to change the schema (42501). {@link migrateAtStart} rejects at once; `code` is the
 * SQLSTATE and `cause` PostgreSQL's error. Transient errors (connection, shutdown, resources,
 * serialization failure, deadlock, lock timeout) are passed on as they are and retried.
 */
export class MigrationFailedError extends Error {
  readonly version: number;
  readonly migration: string;
  /** The SQLSTATE. */
  readonly code: string;
  constructor(m: Migration, code: string, cause: unknown) {
    const todo = /^(22|23)/.test(code)
      ? "rows in the database break what it requires: fix the data, then start again"
      : code === "42501"
      ? "DATABASE_URL's user may not change the schema: run `deno task db:migrate` as a user " +
        'with the right to create tables (their owner), see docs/operations.md "Rights"'
      : "it does not fit this database (an error in the file, or a table changed by hand): " +
        "fix that, then start again";
    super(
      `Cannot migrate: migration ${m.version} (${m.name}) failed with SQLSTATE ${code}: ` +
        `${(cause as Error).message}: ${todo}; nothing was applied and it is not retried`,
      { cause },
    );
    this.name = "MigrationFailedError";
    this.version = m.version;
    this.migration = m.name;
    this.code = code;
  }
}

/** A PostgreSQL error (not a socket's) of a migration's SQL, as what to rethrow. */
function migrationError(m: Migration, error: unknown): unknown {
  const { name, code } = (error ?? {}) as { name?: unknown; code?: unknown };
  if (name !== "PostgresError" || typeof code !== "string" || isTransientSqlState(code)) {
    return error;
  }
  return new MigrationFailedError(m, code, error);
}

/** One migration file. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * Read `NNN_name.sql` files from `dir` (default: this module's `migrations/`). Any other
 * `.sql` file there is refused: a misnamed migration would never be applied.
 */
export async function loadMigrations(
  dir: string | URL = new URL("./migrations/", import.meta.url),
): Promise<Migration[]> {
  const out: Migration[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const m = /^(\d+)_([\w-]+)\.sql$/.exec(entry.name);
    if (!entry.isFile || !entry.name.toLowerCase().endsWith(".sql")) continue;
    if (!m) {
      throw new Error(
        `Cannot migrate: ${entry.name} is not named NNN_name.sql (digits, "_", letters, digits, "_" or "-")`,
      );
    }
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

/**
 * Apply pending migrations; returns the versions applied now. Tried again while a table lock
 * is not had in time (logged), until `signal` aborts.
 */
export async function migrate(
  sql: postgres.Sql,
  options: { log?: Logger; migrations?: Migration[]; signal?: AbortSignal } = {},
): Promise<number[]> {
  const migrations = options.migrations ?? await loadMigrations();
  const { log, signal } = options;
  return await retry(() => migrateOnce(sql, migrations, log), {
    ...(signal ? { signal } : {}),
    baseMs: 250,
    capMs: 5000,
    isRetryable: (error) => (error as { code?: unknown } | null)?.code === LOCK_NOT_AVAILABLE,
    ...(log ? { onRetry: logRetry(log, "apply migrations: a table is in use") } : {}),
  });
}

async function migrateOnce(
  sql: postgres.Sql,
  migrations: Migration[],
  log: Logger | undefined,
): Promise<number[]> {
  const applied: number[] = [];
  let unknown: number[] = [];
  let elsewhere: { schema: string | null; other: string } | undefined;
  // Read committed whatever the database's or role's default: under repeatable read a waiting
  // migrator read schema_migrations as it was before the other's commit, and applied it all again.
  await sql.begin("isolation level read committed", async (tx) => {
    // A statement_timeout set for the services' queries would cancel the wait for another
    // migrator and a long migration (an index on a large table) at every start; their
    // lock_timeout the wait for another migrator (set again for the tables below).
    await tx.unsafe("SET LOCAL statement_timeout = 0");
    await tx.unsafe("SET LOCAL lock_timeout = 0");
    await tx`SELECT pg_advisory_xact_lock(${LOCK_ID})`;
    await tx.unsafe(`SET LOCAL lock_timeout = '${TABLE_LOCK_TIMEOUT}'`);
    // Created only when missing from the schema new tables go to (the first of search_path):
    // CREATE TABLE IF NOT EXISTS needs the right to create even when the table exists (a
    // user limited to rows, migrated by `deno task db:migrate`).
    const [found] = await tx<{ schema: string | null; here: boolean; other: string | null }[]>`
      SELECT current_schema() AS schema,
        to_regclass(quote_ident(current_schema()) || '.schema_migrations') IS NOT NULL AS here,
        (SELECT relnamespace::regnamespace::text FROM pg_class
          WHERE oid = to_regclass('schema_migrations')) AS other`;
    if (!found?.here) {
      await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now())`;
      if (found?.other) elsewhere = { schema: found.schema, other: found.other };
    }
    const recorded = new Map(
      (await tx<{ version: number; name: string }[]>`SELECT version, name FROM schema_migrations`)
        .map((r) => [r.version, r.name]),
    );
    const done = new Set(recorded.keys());
    // Applied under another name: another branch's migration N (refused, as Flyway does).
    const conflicts = migrations.filter((m) =>
      done.has(m.version) && recorded.get(m.version) !== m.name
    )
      .map((m) => ({ version: m.version, recorded: recorded.get(m.version)!, expected: m.name }));
    if (conflicts.length > 0) throw new MigrationConflictError(conflicts);
    const known = new Set(migrations.map((m) => m.version));
    unknown = [...done].filter((v) => !known.has(v)).sort((a, b) => a - b);
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      try {
        await tx.unsafe(m.sql);
      } catch (error) {
        throw migrationError(m, error);
      }
      await tx`INSERT INTO schema_migrations (version, name) VALUES (${m.version}, ${m.name})`;
      applied.push(m.version);
    }
  });
  if (elsewhere !== undefined) {
    // A schema earlier in search_path than an existing installation (one named after the
    // user, "$user", created later): its new, empty tables now hide the installation's.
    log?.warn(
      "created the tables in the first schema of search_path, but a later one already has them",
      elsewhere,
    );
  }
  if (unknown.length > 0) {
    // A rolled-back deploy: the schema may lack what this code expects (a dropped column).
    log?.warn(
      "the database schema is newer than this code: it has migrations this code does not know",
      { unknown, latest: migrations.at(-1)?.version ?? null },
    );
  }
  // Only once committed: a later migration failing rolls back the earlier ones too.
  for (const m of migrations) {
    if (applied.includes(m.version)) {
      log?.info("migration applied", { version: m.version, name: m.name });
    }
  }
  return applied;
}

/**
 * {@link migrate} at a service's start: retried while PostgreSQL cannot be
 * reached (it may start after the service), until `signal` aborts (rejects
 * with its reason). When PostgreSQL answers but refuses DATABASE_URL's user,
 * password or database, waiting will not help: rejects at once with an
 * Error that says what to fix; so it does with a {@link MigrationConflictError}
 * and a {@link MigrationFailedError} (a migration that can never succeed).
 */
export async function migrateAtStart(
  sql: postgres.Sql,
  options: { log: Logger; signal?: AbortSignal; migrations?: Migration[] },
): Promise<number[]> {
  const { log, signal } = options;
  // Read once, before any retry: a misnamed file is not worth waiting for.
  const migrations = options.migrations ?? await loadMigrations();
  try {
    const opts = { log, migrations, ...(signal ? { signal } : {}) };
    return await retry(() => migrate(sql, opts), {
      ...(signal ? { signal } : {}),
      baseMs: 250,
      capMs: 5000,
      isRetryable: (error) =>
        !(error instanceof MigrationConflictError) && !(error instanceof MigrationFailedError) &&
        connectionSettingsProblem(error) === undefined,
      onRetry: logRetry(log, "apply migrations"),
    });
  } catch (error) {
    if (error instanceof MigrationFailedError) throw error; // says which migration, and why
    const problem = connectionSettingsProblem(error);
    // A ConfigError: the service stops with exit 2, as for any other bad setting.
    throw problem ? new ConfigError(problem, { cause: error }) : error;
  }
}
