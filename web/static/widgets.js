// Small components shared by the views: live badge, counters, token field, error note.
import { useState } from "preact/hooks";
import { getToken, setToken } from "./api.js";
import { html, SEVERITIES } from "./util.js";

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

export function Counters({ counts }) {
  return html`<div class="counters" aria-label="Anomalies in the last hour">
    ${
    SEVERITIES.map((s) =>
      html`<div class=${`counter sev-${s}`} key=${s}>
        <span class="n">${
        counts.last_hour?.[s] ?? 0
      }</span><span class="l">${s.toLowerCase()}</span>
      </div>`
    )
  }
    <div class="counter open"><span class="n">${
    counts.open_last_hour ?? 0
  }</span><span class="l">open</span></div>
  </div>`;
}

export function TokenField({ onSaved }) {
  const [value, setValue] = useState(getToken());
  return html`
    <form class="token" onSubmit=${(e) => {
      e.preventDefault();
      setToken(value.trim());
      onSaved?.();
    }}>
      <label>API token <input class="token-input" type="password" autocomplete="off" value=${value}
          onInput=${(e) => setValue(e.currentTarget.value)} /></label>
      <button type="submit">Save</button>
    </form>
  `;
}

export function ErrorNote({ error }) {
  if (!error) return null;
  return html`<p class="error" role="alert">${error.message}</p>`;
}
