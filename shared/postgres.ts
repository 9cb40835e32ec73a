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
 * `TimeZone = UTC`: a timestamptz before the zone's first rule comes with its local mean time
 * (`1800-01-01 00:09:21+00:09:21` in Europe/Paris), which `new Date` cannot read.
 */
export const SESSION_PARAMETERS: Readonly<Record<string, string>> = {
  DateStyle: "ISO, MDY",
  TimeZone: "UTC",
};

const TIMESTAMPTZ =
  /^(\d{4,})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?$/;

/**
 * A timestamptz as PostgreSQL writes it under DateStyle ISO (`2026-03-01 10:20:30.123456+00`),
 * to a Date (milliseconds kept). `new Date(text)`, postgres.js's own parser, reads years 1 to 99
 * as 1950 to 2049 (`0050-01-01 00:00:00+00` became 1950, `0001-…` 2001). Anything else (`infinity`,
 * BC) is left to `new Date`, as before.
 */
export function parseTimestamptz(text: string): Date {
  const m = TIMESTAMPTZ.exec(text);
  if (!m) return new Date(text);
  const n = (i: number) => Number(m[i] ?? 0);
  const date = new Date(0);
  date.setUTCFullYear(n(1), n(2) - 1, n(3)); // not Date.UTC: it maps years 0 to 99 to 1900s
  date.setUTCHours(n(4), n(5), n(6), Number((m[7] ?? "").padEnd(3, "0").slice(0, 3)));
  const offsetS = (m[8] === "-" ? -1 : 1) * (n(9) * 3600 + n(10) * 60 + n(11));
  return new Date(date.getTime() - offsetS * 1000);
}

/**
 * A postgres.js client of `url` with {@link SESSION_PARAMETERS}, timestamptz read by
 * {@link parseTimestamptz} (and notices dropped unless `options.onnotice` says otherwise).
 */
export function connectPostgres(url: string, options: postgres.Options<never> = {}): postgres.Sql {
  return postgres(url, {
    onnotice: () => {},
    ...options,
    types: {
      // postgres.js's `date` type, with the timestamptz (1184) parser replaced.
      timestamptz: {
        to: 1184,
        from: [1184],
        serialize: (x: Date | string | number) =>
          (x instanceof Date ? x : new Date(x)).toISOString(),
        parse: parseTimestamptz,
      },
    },
    connection: { ...options.connection, ...SESSION_PARAMETERS },
  }) as unknown as postgres.Sql;
}
