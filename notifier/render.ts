/**
 * Text for digests, shared by the channels: the subject line, the plain-text
 * and HTML bodies of the email, and small helpers (time window, value vs
 * link to the web view); the value vs threshold cell is figures.ts'. Pure.
 *
 * @module
 */
import { SEVERITIES, type Severity } from "@vigil/shared/schemas/alert";
import { cutText } from "@vigil/shared/text";
import { type Digest, type DigestAlert, digestCounts, type FlappingEntity } from "./digest.ts";
import { valueVsThreshold } from "./figures.ts";

/** Options for rendering. */
export interface RenderOptions {
  /** Base URL of the web view, for links. */
  webBaseUrl: string;
}

function hhmm(ms: number): string {
  return new Date(ms).toISOString().slice(11, 16);
}

/**
 * When it happened, in event time like the rules: the anomaly's event time,
 * or for a resolved alert the event time that cleared it. (`detected_at` is
 * the detector's clock: mixed with event times, a replay of old data gave a
 * window from its year to today.)
 */
export function alertTime(
  a: Pick<DigestAlert, "status" | "event_time" | "resolved_at">,
): number {
  const t = Date.parse(a.status === "resolved" ? a.resolved_at ?? a.event_time : a.event_time);
  return Number.isNaN(t) ? 0 : t;
}

/** A row's time as every channel but Discord (each reader's zone) shows it: `2025-03-01 10:20:09`, UTC. */
export function rowTime(a: Pick<DigestAlert, "status" | "event_time" | "resolved_at">): string {
  return new Date(alertTime(a)).toISOString().slice(0, 19).replace("T", " ");
}

/**
 * `10:20–10:21 UTC` over the alerts' times; `2015-06-01 08:00–08:40 UTC` when
 * they are of another day than the digest (a replay, a backlog), and a date on
 * each end when they span days.
 */
export function digestWindow(digest: Pick<Digest, "alerts" | "createdAt">): string {
  const times = digest.alerts.map(alertTime).filter((t) => t > 0);
  if (times.length === 0) times.push(digest.createdAt);
  const from = Math.min(...times);
  const to = Math.max(...times);
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  if (day(from) !== day(to)) {
    return `${day(from)} ${hhmm(from)}–${day(to)} ${hhmm(to)} UTC`;
  }
  const date = day(from) === day(digest.createdAt) ? "" : `${day(from)} `;
  return hhmm(from) === hhmm(to)
    ? `${date}${hhmm(from)} UTC`
    : `${date}${hhmm(from)}–${hhmm(to)} UTC`;
}

/** `[Vigil] 3 CRITICAL, 5 WARNING — 10:20–10:21 UTC` (resolved counted; repeats marked). */
export function digestSubject(digest: Digest): string {
  const c = digestCounts(digest);
  const parts = [...SEVERITIES].reverse().filter((s) => c.firing[s] > 0).map((s) =>
    `${c.firing[s]} ${s}`
  );
  if (c.resolved) parts.push(`${c.resolved} resolved`);
  if (digest.kind === "test") return `[Vigil] Test notification — ${digestWindow(digest)}`;
  const reminder = digest.kind === "repeat" ? " (still firing)" : "";
  return `[Vigil] ${parts.join(", ") || "no alerts"} — ${digestWindow(digest)}${reminder}`;
}

const LINE_BREAKS = /\r\n|[\n\r\v\f\u0085\u2028\u2029]/g;
const INVISIBLE =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u0008\u000e-\u001f\u007f-\u0084\u0086-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text that came with an event (an entity, a log message) on one line: every
 * line break (CR, LF, VT, FF, NEL, U+2028, U+2029) becomes ` ↵ `, a tab a
 * space, any other control or bidirectional control character (the marks
 * U+061C, U+200E, U+200F included: `12\u200f34\u200f56` shows as 125634)
 * U+FFFD. A log line can then neither add lines to a digest (a fake alert, a
 * link) nor reorder the text after it.
 */
export function oneLine(s: string): string {
  return s.replace(LINE_BREAKS, " ↵ ").replaceAll("\t", " ").replace(INVISIBLE, "\uFFFD");
}

/** `path` (from its leading slash) in the web view. */
function webUrl(options: RenderOptions, path: string): string {
  return `${options.webBaseUrl.replace(/\/+$/, "")}${path}`;
}

/** Link to the alert in the web view (or to its `webPath`: the test notification's, the live view). */
export function alertLink(a: Pick<DigestAlert, "id" | "webPath">, options: RenderOptions): string {
  return webUrl(options, a.webPath ?? `/alerts/${encodeURIComponent(a.id)}`);
}

/** `12 min`, `1 h 5 min`, `40 s`. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}

/** One-line status of an alert: `new`, `firing`, `resolved after 12 min`, plus flapping. */
export function alertState(a: DigestAlert): string {
  let s = a.status === "resolved"
    ? a.resolvedAfterMs === null
      ? "resolved"
      : `resolved after ${formatDuration(a.resolvedAfterMs)}`
    : a.isNew
    ? "new"
    : "still firing";
  if (a.flapping) s += ", flapping";
  return s;
}

/**
 * Rows a digest lists at most (email, Discord, Slack; the webhook carries
 * every alert). An alert storm made digests of tens of thousands of rows
 * (20,000 alerts: 22 MB of email, which a default Postfix refuses for good
 * with 552, so the storm was never mailed; 800 Discord messages). Past this,
 * each section says how many it leaves out and links to them in the web view.
 */
export const DIGEST_MAX_ROWS = 500;

/** Flapping rule/entity pairs a digest names at most (each listed row also says "flapping"). */
export const DIGEST_MAX_FLAPPING = 20;

/** Characters of an alert's message an email row shows (the web view has all of it). */
export const EMAIL_MAX_MESSAGE = 1000;

/** A digest section as a message lists it: its first rows, and how many are left out. */
export type ListedSection = ReturnType<typeof listedSections>[number];

/**
 * The sections a message lists, one per severity (firing), then resolved:
 * {@link DIGEST_MAX_ROWS} rows in all, in section order.
 */
export function listedSections(digest: Pick<Digest, "alerts">) {
  let budget = DIGEST_MAX_ROWS;
  return [...[...SEVERITIES].reverse(), "RESOLVED" as const].flatMap((severity) => {
    const all = digest.alerts.filter((a) =>
      severity === "RESOLVED"
        ? a.status === "resolved"
        : a.status === "firing" && a.severity === severity
    );
    if (all.length === 0) return [];
    const alerts = all.slice(0, Math.max(0, budget));
    budget -= alerts.length;
    const title = `${severity === "RESOLVED" ? "Resolved" : severity} (${all.length})`;
    return [{ title, severity, alerts, hidden: all.length - alerts.length }];
  });
}

/** The web view's list of what a section left out (its severity or resolved, and the group's type). */
export function hiddenLink(
  digest: Pick<Digest, "groupLabels">,
  section: ListedSection,
  options: RenderOptions,
): string {
  const q = new URLSearchParams();
  const type = digest.groupLabels.type;
  if (type) q.set("type", type);
  if (section.severity === "RESOLVED") q.set("resolved", "true");
  else {
    q.set("severity", section.severity);
    q.set("resolved", "false");
  }
  return webUrl(options, `/?${q}`);
}

/** `and 1500 more CRITICAL alerts not listed here (a digest lists 500 at most)`. */
export function hiddenNote(section: ListedSection): string {
  const what = section.severity === "RESOLVED" ? "resolved" : section.severity;
  return `and ${section.hidden} more ${what} alert${
    section.hidden === 1 ? "" : "s"
  } not listed here (a digest lists ${DIGEST_MAX_ROWS} at most)`;
}

/**
 * Cut `s` to `max` characters, marking the cut; never between the two halves
 * of a character (a lone surrogate is not UTF-8: JSON carries it as `\ud83d`).
 */
export function clip(s: string, max: number): string {
  return s.length <= max ? s : cutText(s, max - 1) + "…";
}

/** An alert's message for an email row: one line, its first {@link EMAIL_MAX_MESSAGE} characters and "…". */
function emailMessageText(a: DigestAlert): string {
  return clip(oneLine(a.message), EMAIL_MAX_MESSAGE + 1);
}

/**
 * `6 alerts within 15 min`: a flapping entity's count in the `FLAP_WINDOW` it was counted in
 * (a digest stored before it recorded its window: "within the flap window").
 */
export function flapCount(f: FlappingEntity): string {
  const within = f.windowMs ? formatDuration(f.windowMs) : "the flap window";
  return `${f.changes} alerts within ${within}`;
}

/**
 * The flapping rule/entity pairs a message names: the first {@link DIGEST_MAX_FLAPPING}, and
 * how many it leaves out (a storm that lasts makes every entity of it flapping).
 */
export function listedFlapping(
  digest: Pick<Digest, "flapping">,
): { flapping: FlappingEntity[]; hidden: number } {
  const flapping = digest.flapping.slice(0, DIGEST_MAX_FLAPPING);
  return { flapping, hidden: digest.flapping.length - flapping.length };
}

/** `and 3980 more rule/entity pairs are flapping (a digest names 20 at most)`. */
export function hiddenFlappingNote(hidden: number): string {
  return `and ${hidden} more rule/entity pair${hidden === 1 ? " is" : "s are"} flapping ` +
    `(a digest names ${DIGEST_MAX_FLAPPING} at most)`;
}

function flappingNote(digest: Digest): string[] {
  const { flapping, hidden } = listedFlapping(digest);
  const notes = flapping.map((f) =>
    `${f.rule} on ${oneLine(f.entity)} (${f.type}) is flapping: ${flapCount(f)}; ` +
    `it is reported in digests only.`
  );
  if (hidden > 0) notes.push(`… ${hiddenFlappingNote(hidden)}`);
  return notes;
}

function groupLine(digest: Digest): string {
  const labels = Object.entries(digest.groupLabels).map(([k, v]) => `${k}=${oneLine(v)}`)
    .join(", ");
  return `Group: ${labels || "all"} (route ${digest.route})`;
}

/** The plain-text body. */
export function digestText(digest: Digest, options: RenderOptions): string {
  const lines: string[] = [digestSubject(digest), groupLine(digest), ""];
  for (const note of flappingNote(digest)) lines.push(`! ${note}`);
  if (digest.flapping.length) lines.push("");
  for (const section of listedSections(digest)) {
    lines.push(`== ${section.title} ==`);
    for (const a of section.alerts) {
      const vt = valueVsThreshold(a);
      lines.push(
        `- ${rowTime(a)} UTC  [${a.severity}] ${a.rule} on ${oneLine(a.entity)} (${a.type}) — ${
          alertState(a)
        }`,
      );
      lines.push(`  ${emailMessageText(a)}${vt ? ` (${vt})` : ""}`);
      lines.push(`  ${alertLink(a, options)}`);
    }
    if (section.hidden > 0) {
      lines.push(`… ${hiddenNote(section)}`, `  ${hiddenLink(digest, section, options)}`);
    }
    lines.push("");
  }
  lines.push(`Digest ${digest.id}`);
  return lines.join("\n");
}

/** Escape text for HTML. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

const SECTION_COLOURS: Record<Severity | "RESOLVED", string> = {
  CRITICAL: "#c0392b",
  WARNING: "#935700",
  INFO: "#2874a6",
  RESOLVED: "#1e8449",
};

/**
 * The HTML body: inline styles and tables only, for ordinary mail clients;
 * every text colour reads at WCAG AA (4.5:1) on white.
 */
export function digestHtml(digest: Digest, options: RenderOptions): string {
  const e = escapeHtml;
  const cell = "padding:4px 8px;border-bottom:1px solid #ddd;vertical-align:top;text-align:left";
  // Event text (an entity, a log line quoting a URL) may hold no place to break: without these,
  // one long word widened the table past the window and pushed the "view" links out of sight.
  const wrap = `${cell};word-break:break-word;overflow-wrap:anywhere`;
  const parts: string[] = [
    `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${
      e(digestSubject(digest))
    }</title></head>`,
    `<body style="font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222">`,
    `<h2 style="margin:0 0 4px 0">${e(digestSubject(digest))}</h2>`,
    `<p style="margin:0 0 12px 0;color:#555">${e(groupLine(digest))}</p>`,
    ...flappingNote(digest).map((note) =>
      `<p style="margin:0 0 8px 0;padding:6px;background:#fdebd0;border-left:4px solid #935700">${
        e(note)
      }</p>`
    ),
  ];
  for (const section of listedSections(digest)) {
    const colour = SECTION_COLOURS[section.severity];
    parts.push(`<h3 style="margin:16px 0 4px 0;color:${colour}">${e(section.title)}</h3>`);
    if (section.alerts.length > 0) {
      parts.push(
        `<table cellpadding="0" cellspacing="0" border="0" style="border-collapse:collapse;width:100%">`,
        `<tr style="background:#f4f4f4">${
          ["Time (UTC)", "Rule", "Entity", "Message", "Value vs threshold", "State", "Link"]
            .map((h) => `<th style="${cell}">${h}</th>`).join("")
        }</tr>`,
        ...section.alerts.map((a) =>
          `<tr>` +
          `<td style="${cell};white-space:nowrap">${e(rowTime(a))}</td>` +
          `<td style="${cell}">${e(a.rule)}</td>` +
          `<td style="${wrap}">${e(oneLine(a.entity))} <span style="color:#666">(${
            e(a.type)
          })</span></td>` +
          `<td style="${wrap}">${e(emailMessageText(a))}</td>` +
          `<td style="${cell}">${e(valueVsThreshold(a))}</td>` +
          `<td style="${cell}">${e(alertState(a))}</td>` +
          `<td style="${cell}"><a href="${e(alertLink(a, options))}">view</a></td>` +
          `</tr>`
        ),
        `</table>`,
      );
    }
    if (section.hidden > 0) {
      parts.push(
        `<p style="margin:4px 0 0 0;color:#555">… ${e(hiddenNote(section))}: <a href="${
          e(hiddenLink(digest, section, options))
        }">view them</a></p>`,
      );
    }
  }
  parts.push(
    `<p style="margin-top:16px;color:#666;font-size:12px">Digest ${e(digest.id)}</p>`,
    `</body></html>`,
  );
  return parts.join("\n");
}
