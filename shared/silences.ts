/**
 * Silences: the pure matcher used by the notifier and the PostgreSQL store
 * (table `silences`, migration 002). The web's HTTP API is the only writer
 * (`/api/silences`); the notifier reads active silences to drop alerts.
 *
 * A silence is *active* at `nowMs` when `starts_at <= now < ends_at` and it
 * was not expired early (`expired_at` unset or in the future). It matches an
 * alert when it is active and every matcher it names equals the alert's field.
 *
 * @module
 */
import type postgres from "postgres";
import type { Alert } from "./schemas/alert.ts";
import { parseDurationMs } from "./config.ts";
import { formatZodError } from "./schemas/event.ts";
import { POSTGRES_FIRST_MS, POSTGRES_LAST_MS } from "./schemas/web_api.ts";
import {
  type ParsedSilenceInput,
  type Silence,
  type SilenceInput,
  silenceInputSchema,
  type SilenceMatchers,
  silenceMatchersSchema,
} from "./schemas/silence.ts";

export type { Silence };

/** The fields of an alert a silence can match. */
export type SilenceableAlert = Pick<Alert, "type" | "rule" | "entity" | "severity">;

/** The fields of a silence the matcher needs. */
export type SilenceWindow = Pick<Silence, "matchers" | "starts_at" | "ends_at" | "expired_at">;

/** Lifecycle state of a silence at `nowMs`. */
export type SilenceState = "pending" | "active" | "expired";

/** Whether `silence` is pending, active or expired at `nowMs`. */
export function silenceState(silence: SilenceWindow, nowMs: number): SilenceState {
  const expiredAt = silence.expired_at === null ? Infinity : Date.parse(silence.expired_at);
  const end = Math.min(Date.parse(silence.ends_at), expiredAt);
  if (!(nowMs < end)) return "expired";
  if (nowMs < Date.parse(silence.starts_at)) return "pending";
  return "active";
}

/**
 * Whether `silence` mutes `alert` at `nowMs`: it is active and every matcher
 * it names equals the alert's field. Pure.
 */
export function silenceMatches(
  silence: SilenceWindow,
  alert: SilenceableAlert,
  nowMs: number,
): boolean {
  if (silenceState(silence, nowMs) !== "active") return false;
  const m = silence.matchers;
  const named = [m.type, m.rule, m.entity, m.severity].some((v) => v !== undefined);
  if (!named) return false; // a silence without matchers must never mute everything
  return matchersMatch(m, alert);
}

/** Whether every field `m` names equals the alert's (no field named: true). Pure. */
export function matchersMatch(
  m: { [K in keyof SilenceableAlert]?: string | undefined },
  alert: SilenceableAlert,
): boolean {
  return (m.type === undefined || m.type === alert.type) &&
    (m.rule === undefined || m.rule === alert.rule) &&
    (m.entity === undefined || m.entity === alert.entity) &&
    (m.severity === undefined || m.severity === alert.severity);
}

/** The first silence of `silences` that mutes `alert` at `nowMs`, if any. */
export function findSilence<S extends SilenceWindow>(
  silences: readonly S[],
  alert: SilenceableAlert,
  nowMs: number,
): S | undefined {
  return silences.find((s) => silenceMatches(s, alert, nowMs));
}

type Sql = postgres.Sql;

interface SilenceRow {
  id: string;
  matchers: unknown;
  starts_at: Date;
  ends_at: Date;
  author: string;
  comment: string;
  created_at: Date;
  expired_at: Date | null;
}

function toSilence(row: SilenceRow): Silence {
  const matchers = silenceMatchersSchema.safeParse(row.matchers);
  return {
    id: row.id,
    // Rows are only written through createSilence; a hand-edited bad row keeps its raw matchers
    // (which then match nothing they do not name).
    matchers: matchers.success ? matchers.data : {},
    starts_at: row.starts_at.toISOString(),
    ends_at: row.ends_at.toISOString(),
    author: row.author,
    comment: row.comment,
    created_at: row.created_at.toISOString(),
    expired_at: row.expired_at ? row.expired_at.toISOString() : null,
  };
}

/**
 * Validate a create body and resolve its window. Pure.
 *
 * @throws {RangeError} "Cannot create silence: …" when the input is invalid or ends before it starts
 */
export function resolveSilenceInput(
  input: SilenceInput | ParsedSilenceInput,
  nowMs: number,
): { matchers: SilenceMatchers; startsAt: Date; endsAt: Date; author: string; comment: string } {
  const parsed = silenceInputSchema.safeParse(input);
  if (!parsed.success) {
    throw new RangeError(`Cannot create silence: ${formatZodError(parsed.error)}`);
  }
  const p = parsed.data;
  const startsAt = p.starts_at === undefined ? new Date(nowMs) : new Date(p.starts_at);
  // The schema let through one `<number><unit>` duration, which parseDurationMs reads.
  const endsAt = p.ends_at !== undefined
    ? new Date(p.ends_at)
    : new Date(startsAt.getTime() + parseDurationMs(p.duration!)!);
  // PostgreSQL reads ISO years 1 to 9999 (a Date holds more, or NaN past year 275760).
  if (!(startsAt.getTime() >= POSTGRES_FIRST_MS)) {
    throw new RangeError("Cannot create silence: starts_at is before 0001-01-01");
  }
  if (!(endsAt.getTime() <= POSTGRES_LAST_MS)) {
    throw new RangeError(
      p.duration === undefined
        ? "Cannot create silence: ends_at is after 9999-12-31"
        : `Cannot create silence: duration "${p.duration}" is too long (it would end after 9999-12-31)`,
    );
  }
  if (!(endsAt.getTime() > startsAt.getTime())) {
    throw new RangeError("Cannot create silence: ends_at must be after starts_at");
  }
  if (!(endsAt.getTime() > nowMs)) {
    throw new RangeError("Cannot create silence: ends_at is in the past");
  }
  return { matchers: p.matchers, startsAt, endsAt, author: p.author, comment: p.comment };
}

/**
 * Store a new silence.
 *
 * @param input a create body (validated here again; see {@link silenceInputSchema})
 * @returns the stored silence
 * @throws {RangeError} "Cannot create silence: …" on invalid input
 */
export async function createSilence(
  sql: Sql,
  input: SilenceInput | ParsedSilenceInput,
  options: { nowMs?: number } = {},
): Promise<Silence> {
  const r = resolveSilenceInput(input, options.nowMs ?? Date.now());
  const id = crypto.randomUUID();
  const rows = await sql<SilenceRow[]>`
    INSERT INTO silences (id, matchers, starts_at, ends_at, author, comment)
    VALUES (${id}, ${sql.json(r.matchers)}, ${r.startsAt}, ${r.endsAt}, ${r.author}, ${r.comment})
    RETURNING *`;
  return toSilence(rows[0]!);
}

/**
 * List silences, newest first (at most `limit`, default 500).
 *
 * @param options.active true: only silences in effect now; false: only pending or expired ones; unset: all
 */
export async function listSilences(
  sql: Sql,
  options: { active?: boolean; limit?: number } = {},
): Promise<Silence[]> {
  const limit = Math.max(1, Math.min(options.limit ?? 500, 5000));
  const active = sql`expired_at IS NULL AND starts_at <= now() AND ends_at > now()`;
  const where = options.active === undefined
    ? sql`TRUE`
    : options.active
    ? active
    : sql`NOT (${active})`;
  const rows = await sql<SilenceRow[]>`
    SELECT * FROM silences WHERE ${where} ORDER BY created_at DESC, id LIMIT ${limit}`;
  return rows.map(toSilence);
}

/** One silence by id, or null. */
export async function getSilence(sql: Sql, id: string): Promise<Silence | null> {
  const rows = await sql<SilenceRow[]>`SELECT * FROM silences WHERE id = ${id}`;
  return rows[0] ? toSilence(rows[0]) : null;
}

/**
 * Expire a silence now (idempotent: an already expired or ended silence is
 * returned unchanged).
 *
 * @returns the silence, or null when no silence has this id
 */
export async function expireSilence(sql: Sql, id: string): Promise<Silence | null> {
  const rows = await sql<SilenceRow[]>`
    UPDATE silences SET expired_at = now()
    WHERE id = ${id} AND expired_at IS NULL AND ends_at > now()
    RETURNING *`;
  if (rows[0]) return toSilence(rows[0]);
  return await getSilence(sql, id);
}

/** Silences in effect at `nowMs` (for the notifier's matcher). */
export async function activeSilences(sql: Sql, nowMs: number): Promise<Silence[]> {
  const now = new Date(nowMs);
  const rows = await sql<SilenceRow[]>`
    SELECT * FROM silences
    WHERE (expired_at IS NULL OR expired_at > ${now}) AND starts_at <= ${now} AND ends_at > ${now}
    ORDER BY created_at, id`;
  return rows.map(toSilence);
}

/**
 * Whether silences read at `readAtMs` are to be read again at `nowMs`: after `maxAgeMs`, or at
 * once when the clock was set back past the read (else a change made in the web waited for the
 * clock to catch up: an hour back, a new silence muted nothing for an hour).
 */
export function silencesDue(readAtMs: number, nowMs: number, maxAgeMs = 1000): boolean {
  return !(nowMs >= readAtMs && nowMs - readAtMs < maxAgeMs);
}
