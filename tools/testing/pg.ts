/**
 * Test helper: a fresh PostgreSQL database per test, dropped afterwards.
 *
 * @module
 */
import postgres from "postgres";

/** Admin URL for tests (`TEST_DATABASE_URL`, else local `postgres`). */
export const TEST_DATABASE_URL = Deno.env.get("TEST_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/postgres";

/** A postgres.js client. */
export type Sql = postgres.Sql;

/** A brand-new empty database. */
export interface FreshDatabase {
  /** A client of it. */
  sql: Sql;
  /** Its URL. */
  url: string;
  database: string;
  /** Close the client and drop the database. */
  drop(): Promise<void>;
}

/** Create a brand-new empty database named `<prefix>_<random>`. */
export async function createDatabase(
  options: { prefix?: string; connections?: number } = {},
): Promise<FreshDatabase> {
  const name = crypto.randomUUID().replaceAll("-", "").slice(0, 12);
  const database = `${options.prefix ?? "vigil_test"}_${name}`;
  const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${database}`);
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${database}`;
  const sql = postgres(url.href, { max: options.connections ?? 4, onnotice: () => {} });
  return {
    sql,
    url: url.href,
    database,
    async drop() {
      await sql.end({ timeout: 5 });
      try {
        await admin.unsafe(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      } finally {
        await admin.end({ timeout: 5 });
      }
    },
  };
}

/** Run `fn` against a brand-new empty database; `url` points at it. */
export async function withPg<T>(
  fn: (ctx: { sql: Sql; url: string; database: string }) => Promise<T>,
): Promise<T> {
  const db = await createDatabase();
  try {
    return await fn({ sql: db.sql, url: db.url, database: db.database });
  } finally {
    await db.drop();
  }
}
