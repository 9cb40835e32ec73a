// Times on the page: every time shows its zone, in UTC (the default, as in digests) or the
// browser's local zone, as the user picks; the choice is kept in localStorage ("vigil.tz").
import { useEffect, useState } from "preact/hooks";
import { loadSetting, saveSetting } from "./settings.js";

const KEY = "vigil.tz";
// The page is in English: times read alike in every browser language (`14:03:12 GMT+5:30`, not
// `١٤:٠٣:١٢ غرينتش+٥:٣٠` in Arabic or `14 h 03 min 12 s HNT` in Canadian French).
const LOCALE = "en-US";
const listeners = new Set();
let zone = loadSetting(KEY, "utc") === "local" ? "local" : "utc";

/** "utc" or "local". */
export function getZone() {
  return zone;
}

/** Choose "utc" or "local" (kept in this browser); views using useZone() re-render. */
export function setZone(next) {
  zone = next === "local" ? "local" : "utc";
  saveSetting(KEY, zone);
  for (const l of listeners) l(zone);
}

/** The current zone; the calling component re-renders when it changes. */
export function useZone() {
  const [z, set] = useState(zone);
  useEffect(() => {
    listeners.add(set);
    return () => listeners.delete(set);
  }, []);
  return z;
}

function options(extra) {
  return { hourCycle: "h23", ...(zone === "utc" ? { timeZone: "UTC" } : {}), ...extra };
}

/** Short name of the zone at `ms`: "UTC", "GMT+5:30", "CET"… */
export function zoneName(ms = Date.now()) {
  if (zone === "utc") return "UTC";
  return new Intl.DateTimeFormat(LOCALE, { timeZoneName: "short" }).formatToParts(ms)
    .find((p) => p.type === "timeZoneName")?.value ?? "local";
}

/** The browser's zone, e.g. "Asia/Kolkata, GMT+5:30". */
export function localZoneLabel() {
  const name = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const short = new Intl.DateTimeFormat(LOCALE, { timeZoneName: "short" }).formatToParts(Date.now())
    .find((p) => p.type === "timeZoneName")?.value;
  return [name, short].filter(Boolean).join(", ");
}

// The server's clock as this browser sees it. A browser whose clock was minutes off drew the
// wrong last hour (missing the newest anomalies, or empty minutes to come), counted the wrong
// ones and showed a fresh anomaly detected "in 9m".
let skewMs = 0;
const clockListeners = new Set();

/** Now by the server's clock (the `Date` of its last answers), in ms since the epoch. */
export function serverNow() {
  return Date.now() + skewMs;
}

/**
 * Note an answer's `Date` header (`header`), received at `receivedAt` by this browser's clock.
 * Whole seconds, so only an offset past 2 s counts; the clock set right again, it goes back to 0.
 */
export function noteServerDate(header, receivedAt = Date.now()) {
  const t = Date.parse(header ?? "");
  if (Number.isNaN(t)) return;
  const offset = t + 500 - receivedAt;
  if (Math.abs(offset - skewMs) <= 2000) return;
  skewMs = Math.abs(offset) > 2000 ? offset : 0;
  for (const l of clockListeners) l();
}

/** Call `fn` when serverNow() moved (a clock found off); returns the function that stops it. */
export function onClockChange(fn) {
  clockListeners.add(fn);
  return () => clockListeners.delete(fn);
}

function day(ms) {
  return new Intl.DateTimeFormat("en-CA", options({ dateStyle: "short" })).format(ms);
}

function toMs(t) {
  return typeof t === "number" ? t : Date.parse(t);
}

/**
 * "14:03:12 UTC" today, "Mar 1, 14:03 UTC" on other days, "Mar 1, 2024, 14:03 UTC" in other
 * years (a replayed event); "—" for none.
 */
export function fmtTime(t) {
  if (t === null || t === undefined || t === "") return "—";
  const ms = toMs(t);
  if (Number.isNaN(ms)) return String(t);
  const [d, now] = [day(ms), day(serverNow())];
  const year = d.slice(0, 4) === now.slice(0, 4) ? {} : { year: "numeric" };
  const f = new Intl.DateTimeFormat(
    LOCALE,
    options(
      d === now
        ? { hour: "2-digit", minute: "2-digit", second: "2-digit" }
        : { ...year, month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" },
    ),
  );
  return `${f.format(ms)} ${zoneName(ms)}`;
}

/** The full time with date and zone, for tooltips: "2025-03-01 14:03:12 UTC". */
export function fmtFull(t) {
  const ms = toMs(t);
  if (Number.isNaN(ms)) return String(t);
  const f = new Intl.DateTimeFormat("en-CA", options({ dateStyle: "short", timeStyle: "medium" }));
  return `${f.format(ms).replace(",", "")} ${zoneName(ms)}`;
}

/** "14:03" in the chosen zone, for chart axes (whose titles name the zone). */
export function fmtClock(ms) {
  return new Intl.DateTimeFormat(LOCALE, options({ hour: "2-digit", minute: "2-digit" })).format(
    ms,
  );
}
