// Small components shared by the views: top bar (zone and theme), live badge, counters,
// token field and help, error note.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, getToken, retryDelayMs, setToken, tokenProblem } from "./api.js";
import { getZone, localZoneLabel, setZone } from "./time.js";
import { html, SEVERITIES, useTheme } from "./util.js";

/** The page's header: brand (a link home), the view's own items, then zone, API docs, theme. */
export function TopBar({ children }) {
  const [theme, nextTheme] = useTheme();
  return html`<header class="top">
    <a class="brand" href="/" title="All anomalies"><span class="logo" aria-hidden="true"></span>
      <h1>Vigil</h1></a>
    ${children}
    <div class="top-tools">
      <${ZoneSelect} />
      <a class="docs-link" href="/api/docs">API</a>
      <button type="button" class="theme" onClick=${nextTheme} title="Theme">
        <span class="sr-only">Theme: </span><span aria-hidden="true">${
    theme === "auto" ? "◐" : theme === "dark" ? "●" : "○"
  }</span> ${theme}
      </button>
    </div>
  </header>`;
}

/** UTC (default, as in digests) or the browser's zone, for every time on the page. */
export function ZoneSelect() {
  return html`
    <label class="zone" title="Time zone of every time shown (kept in this browser)">
      <span class="sr-only">Time zone</span>
      <select id="tz-select" value=${getZone()} onChange=${(e) => setZone(e.currentTarget.value)}>
        <option value="utc">UTC</option>
        <option value="local">Local (${localZoneLabel()})</option>
      </select>
    </label>
  `;
}

export function LiveBadge({ status }) {
  const label = status.state === "live"
    ? "Live"
    : status.state === "connecting"
    ? "Connecting…"
    : `Reconnecting…${status.reason ? ` (${status.reason})` : ""}`;
  return html`
    <span class=${`live live-${status.state}`} role="status" aria-live="polite"
      data-state=${status.state}><span class="dot"></span>${label}</span>
  `;
}

/** The last hour's counts by severity; "–" until they are known (not loaded, or unreadable). */
export function Counters({ counts }) {
  return html`<div class="counters" role="group" aria-label="Anomalies in the last hour">
    ${
    SEVERITIES.map((s) =>
      html`<div class=${`counter sev-${s}`} key=${s}>
        <span class="n">${
        counts.last_hour ? counts.last_hour[s] ?? 0 : "–"
      }</span><span class="l">${s.toLowerCase()}</span>
      </div>`
    )
  }
    <div class="counter open"><span class="n">${
    counts.open_last_hour ?? "–"
  }</span><span class="l">open</span></div>
  </div>`;
}

export function TokenField({ onSaved }) {
  const [value, setValue] = useState(getToken());
  const [problem, setProblem] = useState(null);
  return html`
    <form class="token" onSubmit=${(e) => {
      e.preventDefault();
      const token = value.trim();
      // Saving nothing forgets the saved token.
      const wrong = token ? tokenProblem(token) : null;
      setProblem(wrong);
      if (wrong) return;
      setToken(token);
      onSaved?.();
    }}>
      <label>API token <input class="token-input" type="password" autocomplete="off" value=${value}
          onInput=${(e) => setValue(e.currentTarget.value)} /></label>
      <button type="submit">Save</button>
      ${problem ? html`<p class="error token-problem" role="alert">${problem}</p>` : null}
    </form>
  `;
}

/**
 * Whether `error` is the server refusing for want of the token (401) or of any token (503 that
 * names `VIGIL_API_TOKEN`; a 503 for a database out of reach is a passing failure, not this).
 */
export function isTokenRefusal(error) {
  return error instanceof ApiError &&
    (error.status === 401 || (error.status === 503 && /VIGIL_API_TOKEN/.test(error.message)));
}

/**
 * What to do when the server refuses for want of the API token: where the token is, where to
 * put it. `reading`: a read was refused (WEB_PUBLIC_READ=false).
 */
export function TokenHelp({ error, onSaved, reading = false }) {
  if (!isTokenRefusal(error)) return null;
  const saved = Boolean(getToken());
  const what = reading
    ? "This server needs its API token to show anything."
    : saved
    ? "The API token saved in this browser was refused."
    : "Acknowledging and silencing need the server's API token.";
  // htm drops whitespace that touches a tag across a line break: lines break inside text only.
  return html`<div class="token-help" role="note" data-status=${error.status}>
    ${
    error.status === 503
      ? html`<p><strong>Acknowledging and silencing are turned off on this server:</strong> the
        web service runs without an API token (<code>VIGIL_API_TOKEN</code> is unset). Whoever
        runs it sets <code>VIGIL_API_TOKEN</code> (8+ characters) and restarts the web service;
        then paste the same token below. <code>deno task dev</code> and <code>bash tools/vigil.sh
        up</code> set one for you.</p>`
      : html`<p><strong>${what}</strong> Paste it below and press Save: it is kept in this
        browser only and sent as <code>Authorization: Bearer …</code>.</p>`
  }
    <p class="muted">Where is it? With <code>deno task dev</code> or <code>bash tools/vigil.sh
      up</code> it is printed at start and kept in <code>.vigil/api_token</code> (run <code>cat
      .vigil/api_token</code> in the project folder). Otherwise it is the <code>VIGIL_API_TOKEN</code> the
      web service was started with; ask whoever runs it.</p>
    <${TokenField} onSaved=${onSaved} />
  </div>`;
}

/**
 * An error's message. `retries`: the view asks again by itself (`useRetry`), so an error
 * worth asking again for ({@link retryDelayMs}) says so.
 */
export function ErrorNote({ error, prefix = "", retries = false }) {
  if (!error) return null;
  return html`<p class="error" role="alert">${prefix}${error.message}${
    retries && retryDelayMs(error) !== null ? " (trying again by itself)" : ""
  }</p>`;
}

/** Live alerts are told to screen readers at most this often (a storm is one message). */
const NEWS_MS = 5000;

/**
 * A polite live region telling screen readers of live alerts that reached the list (`fresh`
 * rows): "2 new anomalies, newest: CRITICAL …; 1 resolved", gathered for a second, then at most
 * every NEWS_MS.
 */
export function LiveNews({ items, fresh }) {
  const [text, setText] = useState("");
  const seen = useRef(new Set());
  const tally = useRef({ added: 0, resolved: 0, newest: null });
  const timer = useRef(null);
  useEffect(() => {
    for (const id of seen.current) if (!fresh.has(id)) seen.current.delete(id);
    const ids = [...fresh].filter((id) => !seen.current.has(id));
    if (ids.length === 0) return;
    const byId = new Map(items.map((a) => [a.id, a]));
    const t = tally.current;
    for (const id of ids) {
      seen.current.add(id);
      const a = byId.get(id);
      if (!a) continue; // not in the list (other filters)
      if (a.resolved_at) t.resolved++;
      else {
        t.added++;
        if (!t.newest || Date.parse(a.detected_at) > Date.parse(t.newest.detected_at)) t.newest = a;
      }
    }
    const tell = () => {
      const { added, resolved, newest } = tally.current;
      if (added + resolved === 0) return void (timer.current = null);
      tally.current = { added: 0, resolved: 0, newest: null };
      const parts = [];
      if (added === 1) parts.push(`New anomaly: ${newest.severity} ${newest.title}`);
      else if (added) {
        parts.push(`${added} new anomalies, newest: ${newest.severity} ${newest.title}`);
      }
      if (resolved) parts.push(`${resolved} resolved`);
      setText(parts.join("; "));
      timer.current = setTimeout(tell, NEWS_MS);
    };
    if (timer.current === null && t.added + t.resolved > 0) timer.current = setTimeout(tell, 1000);
  }, [fresh]);
  useEffect(() => () => clearTimeout(timer.current), []);
  return html`<p class="sr-only live-news" role="status" aria-atomic="true">${text}</p>`;
}
