/**
 * The one place Vigil opens a PostgreSQL client: postgres.js with the session
 * settings its parsing relies on, whatever the server, database or role sets.
 *
 * @module
 */
import postgres from "postgres";

/**
 * Sent at connect, so they take precedence over `ALTER DATABASE … SET` and
 * `ALTER ROLE … SET`. postgres.js parses every timestamp with
 * `new Date(text)`: under `DateStyle = 'SQL, DMY'` 1 March 2026 comes as
 * `01/03/2026 10:20:30 UTC` and is read as 3 January; `German` is not read at all.
 */
export const SESSION_PARAMETERS: Readonly<Record<string, string>> = { DateStyle: "ISO, MDY" };

/**
 * A postgres.js client of `url` with {@link SESSION_PARAMETERS} (and notices
 * dropped unless `options.onnotice` says otherwise).
 */
export function connectPostgres(url: string, options: postgres.Options<never> = {}): postgres.Sql {
  return postgres(url, {
    onnotice: () => {},
    ...options,
    connection: { ...options.connection, ...SESSION_PARAMETERS },
  });
}
