/**
 * Silences (Alertmanager-style): matchers on an alert's type, rule, entity
 * and severity, active between `starts_at` and `ends_at` unless expired early.
 * Silenced alerts are stored and shown but not sent.
 *
 * Stored in PostgreSQL table `silences` (migration 002).
 *
 * @module
 */
import { z } from "zod";
import { asciiUpper, EVENT_TYPES, identifier, note } from "./event.ts";
import { SEVERITIES } from "./alert.ts";

/**
 * Fields of an alert to match: every given one must equal the alert's; none
 * matches every alert (a route's `match`).
 */
export const alertMatchersSchema = z.strictObject({
  type: z.enum(EVENT_TYPES).optional(),
  rule: identifier(200).optional(),
  entity: identifier(500).optional(),
  /** Any case, stored upper case (as `/api/anomalies?severity=` and events' levels). */
  severity: z.string().transform(asciiUpper).pipe(z.enum(SEVERITIES)).optional(),
});

/** What a silence matches: {@link alertMatchersSchema} naming at least one field. */
export const silenceMatchersSchema = alertMatchersSchema.refine(
  (m) => Object.values(m).some((v) => v !== undefined),
  "must name at least one of type, rule, entity, severity",
);
export type SilenceMatchers = z.infer<typeof silenceMatchersSchema>;

const isoDate = z.iso.datetime({ offset: true });
const durationText = z.string().regex(
  /^\s*\d+(?:\.\d+)?\s*(s|m|h|d)\s*$/,
  "is not a duration (e.g. 30m, 2h, 1d)",
);

/**
 * Body of "create a silence". Either `ends_at` or `duration` (from `starts_at`,
 * default now) must be given.
 */
export const silenceInputSchema = z.strictObject({
  matchers: silenceMatchersSchema,
  /** ISO 8601 with offset; default now. */
  starts_at: isoDate.optional(),
  /** ISO 8601 with offset. */
  ends_at: isoDate.optional(),
  /** Alternative to `ends_at`: `30m`, `2h`, `1d`. */
  duration: durationText.optional(),
  /** A name, like an identifier: one line, no control or bidirectional control character. */
  author: identifier(200),
  comment: note(2000).default(""),
}).refine((s) => (s.ends_at === undefined) !== (s.duration === undefined), {
  message: "give exactly one of ends_at or duration",
  path: ["ends_at"],
});
export type SilenceInput = z.input<typeof silenceInputSchema>;
export type ParsedSilenceInput = z.infer<typeof silenceInputSchema>;

/** A stored silence as returned by the store and the HTTP API. */
export const silenceSchema = z.object({
  id: z.string(),
  matchers: silenceMatchersSchema,
  starts_at: z.string(),
  ends_at: z.string(),
  author: z.string(),
  comment: z.string(),
  created_at: z.string(),
  expired_at: z.string().nullable(),
});
export type Silence = z.infer<typeof silenceSchema>;
