// Shared helpers of the page: htm bound to Preact, formatting, small hooks.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import { fmtNum } from "./charts.js";
import { loadSetting, saveSetting } from "./settings.js";
import { onClockChange, serverNow } from "./time.js";

export { count } from "./charts.js";

export const html = htm.bind(h);

export const SEVERITIES = ["CRITICAL", "WARNING", "INFO"];

// ---------------------------------------------------------------- formatting

// Times are formatted in time.js (zone shown, UTC or local as chosen).
export { fmtTime } from "./time.js";

/** A span of time, roughly: "42s", "5m", "3h", "30d". */
export function fmtSpan(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** "5m ago"; a time ahead of `now` by more than a few seconds of clock skew: "in 79d". */
export function ago(iso, now) {
  const ms = now - Date.parse(iso);
  return ms < -5000 ? `in ${fmtSpan(-ms)}` : `${fmtSpan(ms)} ago`;
}

const HIDDEN =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text that came with an event (a log message, an extra field) as the page
 * shows it: every control character but tab and line breaks, and every
 * bidirectional control, becomes U+FFFD, as in a digest (notifier/render.ts).
 * A right-to-left override in a log line would otherwise show `evil` as
 * `live` and reorder what follows it; the marks (U+061C, U+200E, U+200F)
 * reorder too: `12\u200f34\u200f56` shows as 125634.
 */
export function shown(text) {
  return text.replace(HIDDEN, "\uFFFD");
}

/**
 * A detail's value: numbers rounded, a list of plain values "a, b", an object
 * of plain values "clear 0.3 · warning 0.5" (a rule's bands); anything
 * deeper as JSON.
 */
export function fmtValue(v) {
  if (typeof v === "number") return fmtNum(v);
  if (v === null || v === undefined) return "—";
  if (typeof v === "string") return shown(v);
  if (typeof v !== "object") return String(v);
  const plain = (x) => x === null || typeof x !== "object";
  if (Array.isArray(v)) {
    return v.every(plain) ? v.map(fmtValue).join(", ") : shown(JSON.stringify(v));
  }
  const entries = Object.entries(v);
  return entries.every(([, x]) => plain(x))
    ? entries.map(([k, x]) => `${k} ${fmtValue(x)}`).join(" · ")
    : shown(JSON.stringify(v));
}

export function useNow(ms) {
  const [now, setNow] = useState(serverNow());
  useEffect(() => {
    const tick = () => setNow(serverNow());
    const t = setInterval(tick, ms);
    const stop = onClockChange(tick);
    return () => {
      clearInterval(t);
      stop();
    };
  }, [ms]);
  // A render between ticks (a live alert) reads the clock: late timers (a busy or throttled tab)
  // showed an alert just detected "in 7s".
  return Math.max(now, serverNow());
}

// ---------------------------------------------------------------- theme

export const THEMES = ["auto", "light", "dark"];
export function useTheme() {
  const [theme, setTheme] = useState(() => loadSetting("vigil.theme", "auto"));
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    saveSetting("vigil.theme", theme);
  }, [theme]);
  return [theme, () => setTheme(THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length])];
}
