// Acknowledge and silence forms of the detail view.
import { useLayoutEffect, useRef, useState } from "preact/hooks";
import { ApiError, sendJson } from "./api.js";
import { loadSetting, saveSetting } from "./settings.js";
import { html } from "./util.js";
import { ErrorNote, TokenHelp } from "./widgets.js";

/**
 * A form's first field takes focus when it opens (its button said "expanded"; typing goes in). At
 * once, as the form is put in the page: as an effect (after paint) it took focus from a field the
 * user had already clicked into, and what they typed next went into the first field.
 */
function useFirstField() {
  const form = useRef(null);
  useLayoutEffect(() => {
    const f = form.current;
    if (f && !f.contains(document.activeElement)) f.querySelector("input, select")?.focus();
  }, []);
  return form;
}

/**
 * A token saved after a refusal: the refusal and its help go, focus goes to the form's button, and
 * a note says to press it again (`again`). Before, the 401 and "paste it below" stayed after Save,
 * as if the token had not been taken.
 */
export function useTokenSaved(setError) {
  const button = useRef(null);
  const [saved, setSaved] = useState(false);
  const onSaved = () => {
    setError(null);
    setSaved(true);
    button.current?.focus();
  };
  const note = (again) =>
    saved
      ? html`<p class="token-saved" role="status">Token saved in this browser: press ${again} again.</p>`
      : null;
  return { button, onSaved, note, reset: () => setSaved(false) };
}

/** The form's Cancel: closes it, nothing sent (focus goes back to the button that opened it). */
function Cancel({ onCancel }) {
  return html`<button type="button" class="cancel" onClick=${onCancel}>Cancel</button>`;
}

/**
 * Acknowledge `anomaly`: `onDone(anomaly, already)`; `already` when someone acknowledged it first
 * (409: theirs stands, and `anomaly` carries it).
 */
export function AckForm({ anomaly, onDone, onCancel }) {
  const form = useFirstField();
  const [by, setBy] = useState(() => loadSetting("vigil.user", ""));
  const [comment, setComment] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const token = useTokenSaved(setError);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    token.reset();
    try {
      saveSetting("vigil.user", by);
      const r = await sendJson("POST", `/api/anomalies/${encodeURIComponent(anomaly.id)}/ack`, {
        by,
        comment,
      });
      onDone(r.anomaly, false);
    } catch (err) {
      if (err instanceof ApiError && err.status === 409 && err.body?.anomaly) {
        return onDone(err.body.anomaly, true);
      }
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <form class="action-form" ref=${form} onSubmit=${submit}>
      <label>Your name <input id="ack-by" required maxlength="200" value=${by} onInput=${(e) =>
        setBy(e.currentTarget.value)} /></label>
      <label>Comment <input id="ack-comment" maxlength="2000" value=${comment} onInput=${(e) =>
        setComment(e.currentTarget.value)} /></label>
      <button type="submit" ref=${token.button} disabled=${busy}>Acknowledge</button>
      <${Cancel} onCancel=${onCancel} />
      <${ErrorNote} error=${error} />
      ${token.note("Acknowledge")}
      <${TokenHelp} error=${error} onSaved=${token.onSaved} />
    </form>
  `;
}

export function SilenceForm({ anomaly, onDone, onCancel }) {
  const form = useFirstField();
  const [author, setAuthor] = useState(() => loadSetting("vigil.user", ""));
  const [duration, setDuration] = useState("1h");
  const [comment, setComment] = useState("");
  const [scope, setScope] = useState({ rule: true, entity: true, type: false, severity: false });
  const [error, setError] = useState(null);
  // One silence per press: a double click made two.
  const [busy, setBusy] = useState(false);
  const token = useTokenSaved(setError);
  const submit = async (e) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    token.reset();
    const matchers = {};
    for (const k of Object.keys(scope)) if (scope[k]) matchers[k] = anomaly[k];
    try {
      const r = await sendJson("POST", "/api/silences", { matchers, duration, author, comment });
      onDone(r.silence);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <form class="action-form" ref=${form} onSubmit=${submit}>
      <fieldset><legend>Silence alerts with the same</legend>
          ${Object.keys(scope).map((k) =>
            html`<label class="check" key=${k}><input type="checkbox" checked=${scope[k]}
          onChange=${(e) => setScope({ ...scope, [k]: e.currentTarget.checked })} />
        ${k} <code>${anomaly[k]}</code></label>`
          )}
        </fieldset>
      <label>For <select value=${duration} onChange=${(e) => setDuration(e.currentTarget.value)}>
          <option value="30m">30 minutes</option><option value="1h">1 hour</option>
          <option value="4h">4 hours</option><option value="1d">1 day</option><option value="7d">7 days</option>
        </select></label>
      <label>Your name <input id="silence-by" required maxlength="200" value=${author} onInput=${(
        e,
      ) => setAuthor(e.currentTarget.value)} /></label>
      <label>Comment <input id="silence-comment" maxlength="2000" value=${comment} onInput=${(e) =>
        setComment(e.currentTarget.value)} /></label>
      <button type="submit" ref=${token.button} disabled=${busy}>Silence</button>
      <${Cancel} onCancel=${onCancel} />
      <${ErrorNote} error=${error} />
      ${token.note("Silence")}
      <${TokenHelp} error=${error} onSaved=${token.onSaved} />
    </form>
  `;
}
