// "Send test notification" in the notifications panel: POST /api/notifications/test (token),
// which the web passes to the notifier; shows each channel's result.
import { useState } from "preact/hooks";
import { sendJson } from "./api.js";
import { html } from "./util.js";
import { ErrorNote, TokenHelp } from "./widgets.js";
import { useTokenSaved } from "./actions.js";

function ChannelResult({ r }) {
  // Accepted, but not by everyone (an email some recipients refused): say who was left out.
  const detail = r.ok
    ? `sent (${r.duration_ms} ms)${r.warning ? `, but ${r.warning}` : ""}`
    : `failed: ${r.error ?? "unknown error"}${r.retryable ? " (temporary)" : ""}`;
  const cls = r.ok ? (r.warning ? "ok warning" : "ok") : "failed";
  return html`
    <li data-channel=${r.channel} data-ok=${String(r.ok)} data-warning=${r.warning ? "true" : null}
      class=${cls}><b>${r.channel}</b> ${r.ok ? "✓" : "✗"} ${detail}</li>
  `;
}

/** The button and the last result. */
export function TestNotification() {
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const token = useTokenSaved(setError);
  const send = async () => {
    setBusy(true);
    setError(null);
    setResult(null);
    token.reset();
    try {
      setResult(await sendJson("POST", "/api/notifications/test"));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  // A 503 for want of NOTIFIER_URL is not a token matter.
  const tokenError = error && (error.status === 401 || /VIGIL_API_TOKEN/.test(error.message))
    ? error
    : null;
  return html`
    <div class="test-notify">
      <button id="test-notification" type="button" ref=${token.button} disabled=${busy}
        onClick=${send}>${busy ? "Sending…" : "Send test notification"}</button>
      ${result
        ? html`<ul class="test-results" aria-label="Test notification results">${
          result.results
            .map((r) => html`<${ChannelResult} key=${r.channel} r=${r} />`)
        }</ul>`
        : null}
      <${ErrorNote} error=${error} />
      ${token.note("Send test notification")}
      <${TokenHelp} error=${tokenError} onSaved=${token.onSaved} />
    </div>
  `;
}
