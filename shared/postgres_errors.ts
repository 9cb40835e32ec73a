/**
 * What a PostgreSQL error says: "this data can never be stored"
 * ({@link isDataError}: retrying is pointless, the consumers isolate the
 * entries at fault and dead-letter them, see `shared/stream_consumer.ts` and
 * the detector's persist stage), "PostgreSQL is out of reach"
 * ({@link isConnectionError}: try again later; HTTP answers 503), or "the
 * connection settings are wrong" ({@link connectionSettingsProblem}: stop at
 * start and say what to fix).
 *
 * @module
 */

/**
 * SQLSTATE classes of errors caused by the data of a statement: 22 (data
 * exception: NUL in text, invalid JSON, untranslatable character, value out
 * of range), 23 (integrity constraint violation) and 54 (program limit
 * exceeded: a value too large). Connection, resource, and schema errors
 * (08, 53, 57, 42…) are not: they hit every statement alike.
 */
export function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^(22|23|54)[0-9A-Z]{3}$/.test(code);
}

/** Socket errors (postgres.js passes them on with their `code`). */
const SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EPIPE",
]);
/** postgres.js's own connection errors. */
const POSTGRES_CONNECTION_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
]);

/**
 * PostgreSQL out of reach rather than refusing the statement: a socket
 * error, postgres.js's connection errors, SQLSTATE class 08 (connection
 * exception), 57P01–57P03 (shutting down, starting up) and 53300 (too many
 * connections).
 */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return false;
  return SOCKET_CODES.has(code) || POSTGRES_CONNECTION_CODES.has(code) ||
    /^(08[0-9A-Z]{3}|57P0[123]|53300)$/.test(code);
}

/**
 * A SQLSTATE waiting may cure: connection (08), serialization failure and deadlock (40),
 * insufficient resources (53), operator intervention (57: shutdown, cancel), system (58, XX),
 * lock not available and object in use (55P03, 55006). Any other refuses the statement for good.
 */
export function isTransientSqlState(code: string): boolean {
  return /^(08|40|53|57|58|XX)[0-9A-Z]{3}$|^55(P03|006)$/.test(code);
}

/**
 * Why PostgreSQL refused the connection settings themselves (SQLSTATE class
 * 28, invalid authorization: unknown role, wrong password, no `pg_hba.conf`
 * entry; 3D000, no such database; 42501, no privilege to create the tables;
 * 3F000, no schema of `search_path` exists to create them in),
 * as a message that says what to fix, or undefined for anything else
 * (PostgreSQL not up yet, a network error), which waiting may cure.
 */
export function connectionSettingsProblem(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || !/^(28[0-9A-Z]{3}|3D000|3F000|42501)$/.test(code)) {
    return undefined;
  }
  const what = code === "3D000"
    ? "the database name"
    : code === "3F000"
    ? "search_path (create its schema first, or name one that exists)"
    : code === "42501"
    ? "the user (it must be allowed to create tables)"
    : "the user or password (or pg_hba.conf)";
  return `PostgreSQL refused DATABASE_URL: ${
    (error as Error).message
  }: fix ${what} in DATABASE_URL`;
}

/**
 * The postgres.js write race: after a connection closed, a small write it had
 * deferred with `setImmediate` runs `socket.write` on a null socket
 * (porsager/postgres#1154 and #1208, denoland/deno#34667; postgres 3.4.9 on
 * Deno 2.9.6). It is thrown from the timer, outside any query's promise, so
 * nothing can catch it and it would end the process in the middle of a
 * PostgreSQL outage.
 */
export function isPostgresWriteRace(error: unknown): boolean {
  const stack = error instanceof TypeError ? error.stack ?? "" : "";
  return /reading 'write'/.test(stack) && /\bnextWrite\b/.test(stack) &&
    /postgres\/src\/connection\.js/.test(stack);
}

/**
 * Keep the process running through {@link isPostgresWriteRace}: the query
 * the write belonged to was already rejected with CONNECTION_CLOSED when the
 * connection closed (and every query of a service has a timeout and is
 * retried), so the write is moot. Logged as a warning. Any other uncaught
 * error still ends the process.
 */
export function survivePostgresWriteRace(
  log: { warn(msg: string, fields?: Record<string, unknown>): void },
): void {
  globalThis.addEventListener("error", (event) => {
    if (!isPostgresWriteRace(event.error)) return;
    event.preventDefault();
    log.warn("postgres.js wrote to a closed connection (a known driver bug), ignored", {
      error: event.error,
    });
  });
}
