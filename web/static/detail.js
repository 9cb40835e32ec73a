// The detail view of one anomaly: facts, actions, values, series, evidence.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { getJson, useRetry } from "./api.js";
import { fmtNum, NO_SERIES, Sparkline } from "./charts.js";
import { AckForm, SilenceForm } from "./actions.js";
import { fmtTime, fmtValue, html, shown } from "./util.js";
import { alertLink, entityPath } from "./list.js";
import { ErrorNote } from "./widgets.js";

const THRESHOLD_KEYS = /threshold|limit|max|min|upper|lower|bound|expected|baseline|mean|median/i;

// A list of records (an entity score's measures): one line each.
const isListOfObjects = (v) =>
  Array.isArray(v) && v.length > 0 &&
  v.every((x) => x !== null && typeof x === "object" && !Array.isArray(x));

function DetailsTable({ details }) {
  const entries = Object.entries(details ?? {});
  if (!entries.length) return html`<p class="muted">No details recorded.</p>`;
  return html`
    <table class="kv">
      <tbody>${entries.map(([k, v]) =>
        html`
          <tr key=${k} class=${THRESHOLD_KEYS.test(k)
            ? "thr"
            : /value|observed|actual|count|rate/i.test(k)
            ? "val"
            : ""}>
            <th scope="row">${k}</th>
            <td>${isListOfObjects(v)
              ? html`<ul>${v.map((x, i) => html`<li key=${i}>${fmtValue(x)}</li>`)}</ul>`
              : fmtValue(v)}</td>
          </tr>
        `
      )}</tbody>
    </table>
  `;
}

function SeriesView({ anomaly }) {
  const [state, setState] = useState({ loading: true, series: [], error: null });
  useEffect(() => {
    const ctrl = new AbortController();
    const t = Date.parse(anomaly.event_time);
    const measure = typeof anomaly.details?.measure === "string"
      ? anomaly.details.measure
      : typeof anomaly.details?.metric === "string"
      ? anomaly.details.metric
      : undefined;
    getJson(
      `/api/series/${encodeURIComponent(anomaly.type)}/${encodeURIComponent(anomaly.entity)}`,
      // Clamped to the epoch: an anomaly reported for 1970 (evaluate API) has no half hour before.
      { measure, from: Math.max(0, t - 30 * 60_000), to: t + 30 * 60_000, limit: 300 },
      ctrl.signal,
    ).then((r) => setState({ loading: false, series: r.series, error: null }))
      .catch((error) => {
        if (error.name !== "AbortError") setState({ loading: false, series: [], error });
      });
    return () => ctrl.abort();
  }, [anomaly.id]);
  if (state.loading) return html`<p class="muted">Loading series…</p>`;
  if (state.error) return html`<${ErrorNote} error=${state.error} />`;
  const shown = state.series.filter((s) => s.points.length).slice(0, 4);
  if (!state.series.length) return html`<p class="muted">${NO_SERIES}</p>`;
  if (!shown.length) {
    return html`<p class="muted">No cached values around this time (the cache keeps recent points only).</p>`;
  }
  const d = anomaly.details ?? {};
  // The statistical rules record the band they expected the value in.
  const band = typeof d.expected_low === "number" && typeof d.expected_high === "number"
    ? { low: d.expected_low, high: d.expected_high }
    : undefined;
  // Bands belong to the rule's own measure, when it names one.
  const own = (s) => typeof d.measure !== "string" || d.measure === s.measure;
  return html`<div class="sparks">${
    shown.map((s) =>
      html`
        <${Sparkline} key=${s.measure} points=${s.points} label=${s.measure}
          threshold=${seriesThreshold(d, s.measure)} band=${own(s) ? band : undefined}
          markTs=${Date.parse(anomaly.event_time)} />
      `
    )
  }</div>`;
}

/**
 * The threshold line of the cached series `measure` in the detail of an anomaly with `details`:
 * the rule's threshold when it belongs to that measure, read from the details' shape (the
 * `measure` they name; `cpu_threshold`, `latency_threshold_ms`; `threshold` or `threshold_ms`
 * beside the measure's own value, `latency_ms`, or its lowest or highest, `min_cpu`), else none.
 * A rule naming no measure used to have its threshold drawn on every series: `cpu_sustained`'s
 * 80 % on error_rate and latency_ms, while `latency_high`'s 1000 ms showed on none.
 */
export function seriesThreshold(details, measure) {
  const d = details ?? {};
  const num = (v) => typeof v === "number" && Number.isFinite(v);
  const own = d[`${measure}_threshold`] ?? d[`${measure.replace(/_ms$/, "")}_threshold_ms`];
  if (num(own)) return own;
  const t = num(d.threshold) ? d.threshold : num(d.threshold_ms) ? d.threshold_ms : undefined;
  if (t === undefined) return undefined;
  if (typeof d.measure === "string") return d.measure === measure ? t : undefined;
  return [measure, `min_${measure}`, `max_${measure}`].some((k) => num(d[k])) ? t : undefined;
}

/** Where the raw archive keeps the event: its object, where to look for it, or where it will be. */
function ArchiveLine({ archive }) {
  if (archive.lookup === "found") {
    return html`<div class="ev-sub archive-found">archive object <code>${
      archive.url ??
        archive.object
    }</code></div>`;
  }
  const where = archive.url ?? archive.folder;
  // `elsewhere`: stored, but dated by a Kafka timestamp far from the event's time, under an hour
  // the lookup did not search.
  const elsewhere = archive.lookup === "elsewhere";
  const label = elsewhere
    ? "archived under an hour not searched; look in"
    : archive.lookup === "not_archived"
    ? "not archived yet; will be under"
    : "archive folder";
  const which = elsewhere ? ", the one with the greatest first offset not above this event's" : "";
  const cls = elsewhere ? "ev-sub archive-elsewhere" : "ev-sub";
  const pattern = archive.object_pattern;
  return html`
    <div
      class=${cls}>${label} <code>${where}</code> as <code>${pattern}</code>${which}</div>
  `;
}

function Evidence({ items }) {
  if (!items.length) return html`<p class="muted">No evidence recorded.</p>`;
  return html`<ul class="evidence">${
    items.map((e) =>
      html`<li key=${e.stream_id + e.stream}>
        <div class="ev-head">
          <code>${e.topic}</code> partition <code>${e.partition}</code> offset <code>${e.offset}</code>
          <span class=${e.available ? "tag ok" : "tag"}>${
        e.available ? "in stream" : "archived"
      }</span>
        </div>
        <div class="ev-sub muted">stream <code>${e.stream}</code> id <code>${e.stream_id}</code>
          ${
        e.traceparent
          ? html`
            · trace <code>${e.traceparent.split("-")[1] ?? e.traceparent}</code>
          `
          : null
      }</div>
        <${ArchiveLine} archive=${e.archive} />
        ${e.problem ? html`<div class="ev-sub muted">${e.problem}</div>` : null}
        ${
        e.available
          ? html`
            <details>
              <summary>Event</summary>
              <pre>${shown(
                typeof e.event === "string" ? e.event : JSON.stringify(e.event, null, 2),
              )}</pre>
            </details>
          `
          : null
      }
      </li>`
    )
  }</ul>`;
}

/**
 * On a phone the detail is a full-screen sheet over the page: the rest of the page is inert while
 * it is open (Tab walked onto the list and header hidden under it; screen readers read them).
 * `onClose` wrapped: the page is no longer inert when the list takes focus back.
 */
function useSheet(box, onClose) {
  useEffect(() => {
    const sheet = matchMedia("(max-width: 820px)");
    const self = box.current;
    const others = [...(self?.parentElement?.children ?? [])].filter((e) => e !== self);
    const apply = () => {
      for (const e of others) e.inert = sheet.matches;
    };
    apply();
    sheet.addEventListener("change", apply);
    return () => {
      sheet.removeEventListener("change", apply);
      for (const e of others) e.inert = false;
    };
  }, []);
  return useCallback(() => {
    for (const e of box.current?.parentElement?.children ?? []) e.inert = false;
    onClose();
  }, [onClose]);
}

/** The detail view of anomaly `id`; read again when `news` changes (a live alert about it). */
export function Detail({ id, news = 0, filters = {}, onClose: close, onUpdated }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [mode, setMode] = useState(null);
  const [notice, setNotice] = useState(null);
  const retry = useRetry();
  const shownId = useRef(id);
  shownId.current = id;
  const load = useCallback(() => {
    retry.cancel();
    setError(null);
    // A late answer about an anomaly no longer open is dropped: it showed (and its buttons
    // acknowledged) that one under the address and the row of the one opened since.
    const current = () => shownId.current === id;
    return getJson(`/api/anomalies/${encodeURIComponent(id)}`).then((d) => {
      if (current()) setData(d);
    }, (err) => {
      if (!current()) return;
      setError(err);
      retry.after(err, load); // a database out of reach (503): as the list does
    });
  }, [id]);
  // Focus moves in (keyboard users reach its buttons with a Tab or two, not past every row).
  const box = useRef(null);
  const onClose = useSheet(box, close);
  useEffect(() => {
    setData(null);
    setMode(null);
    setNotice(null);
    load();
    box.current?.focus({ preventScroll: true });
  }, [id]);
  const seenNews = useRef(news);
  useEffect(() => {
    if (seenNews.current === news) return;
    seenNews.current = news;
    load();
  }, [news]);
  useEffect(() => {
    const onKey = (e) => {
      if (e.key !== "Escape" || e.defaultPrevented) return;
      // In a field, Escape leaves the field with its text kept (a comment half written was lost
      // with the detail); the next Escape closes the detail. A field outside it (a filter of the
      // list) keeps its Escape: typing there is not about the detail.
      const field = e.target instanceof Element &&
        e.target.closest("input, textarea, select, [contenteditable]");
      if (field) return field.closest(".detail") ? box.current?.focus() : undefined;
      onClose();
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, [onClose]);
  // A form closed (sent or cancelled): focus goes back to a button of the actions, not to the
  // page's start (the button pressed went with the form).
  const actions = useRef(null);
  const refocus = useRef(null);
  const closeForm = (next) => {
    refocus.current = next;
    setMode(null);
  };
  useEffect(() => {
    if (mode !== null || !refocus.current || !actions.current) return;
    // Not taken from where the user went meanwhile (an answer comes late).
    const at = document.activeElement;
    if (at && at !== document.body && !box.current?.contains(at)) {
      return void (refocus.current = null);
    }
    const buttons = actions.current.querySelectorAll("button");
    const next = actions.current.querySelector(`[data-action="${refocus.current}"]`);
    refocus.current = null;
    (next ?? buttons[0])?.focus();
  });
  const a = data?.anomaly;
  return html`<aside class="detail" aria-label="Anomaly detail" ref=${box} tabindex="-1">
    <header class="detail-head">
      <button type="button" class="close" onClick=${onClose} aria-label="Close detail">×</button>
      ${a ? html`<span class=${`badge sev-${a.severity}`}>${a.severity}</span>` : null}
      <h2>${a ? a.title : error ? "Not available" : "Loading…"}</h2>
    </header>
    <${ErrorNote} error=${error} retries />
    ${
    a
      ? html`<div class="detail-body">
      <p class="message">${shown(a.message)}</p>
      <dl class="facts">
        <div><dt>Status</dt><dd>${a.status}${
        a.resolved_at ? ` at ${fmtTime(a.resolved_at)}` : ""
      }</dd></div>
        <div><dt>Type · rule</dt><dd>${a.type} · ${a.rule}</dd></div>
        <div><dt>Entity</dt><dd><a class="entity-link" href=${
        entityPath(a.entity, filters)
      } title="Entity page: state, recent anomalies, series">${a.entity}</a></dd></div>
        <div><dt>Score</dt><dd>${a.score === null ? "—" : fmtNum(a.score)}</dd></div>
        <div><dt>Event time</dt><dd>${fmtTime(a.event_time)}</dd></div>
        <div><dt>Detected</dt><dd>${fmtTime(a.detected_at)}</dd></div>
        ${
        a.trace_id
          ? html`
            <div>
              <dt>Trace</dt>
              <dd><code>${a.trace_id}</code></dd>
            </div>
          `
          : null
      }
        ${
        a.acknowledged_at
          ? html`
            <div class="ack">
              <dt>Acknowledged</dt>
              <dd>by ${a.acknowledged_by} at ${fmtTime(a.acknowledged_at)}${a.ack_comment
                ? ` — “${shown(a.ack_comment)}”`
                : ""}</dd>
            </div>
          `
          : null
      }
        ${
        data.notifier
          ? html`
            <div class="notifier-fate" data-disposition=${data.notifier.disposition}>
              <dt>Notification</dt>
              <dd>${data.notifier.disposition === "inhibited"
                ? html`inhibited by <a href=${
                  alertLink(
                    data.notifier.inhibited_by ?? "",
                    filters,
                  )
                }>${data.notifier.inhibited_by}</a> while that alert fires (inhibition)`
                : "recorded only: its route has no channel"}</dd>
            </div>
          `
          : null
      }
        ${
        data.silenced_by
          ? html`
            <div>
              <dt>Silenced</dt>
              <dd>until ${fmtTime(data.silenced_by.ends_at)} by ${data.silenced_by.author}</dd>
            </div>
          `
          : null
      }
      </dl>
      <div class="actions" ref=${actions}>
        ${
        a.acknowledged_at ? null : html`
          <button type="button" data-action="ack" onClick=${() =>
            setMode(mode === "ack" ? null : "ack")}
            aria-expanded=${mode === "ack"}>Acknowledge</button>
        `
      }
        <button type="button" data-action="silence" onClick=${() =>
        setMode(mode === "silence" ? null : "silence")}
          aria-expanded=${mode === "silence"}>Silence…</button>
        <a href=${`/api/anomalies/${
        encodeURIComponent(a.id)
      }`} target="_blank" rel="noopener">JSON</a>
      </div>
      <p class=${notice ? "notice" : "sr-only"} role="status">${notice}</p>
      ${
        mode === "ack"
          ? html`<${AckForm} anomaly=${a} onCancel=${() => closeForm("ack")} onDone=${(
            updated,
            already,
          ) => {
            closeForm("silence"); // the Acknowledge button goes: the next action
            // Someone acknowledged it first: theirs stands, shown above.
            setNotice(
              already ? `Already acknowledged by ${updated.acknowledged_by}.` : "Acknowledged.",
            );
            setData({ ...data, anomaly: updated });
            onUpdated(updated);
          }} />`
          : null
      }
      ${
        mode === "silence"
          ? html`<${SilenceForm} anomaly=${a} onCancel=${() => closeForm("silence")} onDone=${(
            s,
          ) => {
            closeForm("silence");
            setNotice(`Silenced until ${fmtTime(s.ends_at)}.`);
            load();
          }} />`
          : null
      }
      <h3>Values against thresholds</h3>
      <${DetailsTable} details=${a.details} />
      <h3>Series around the event</h3>
      <${SeriesView} anomaly=${a} />
      <h3>Evidence</h3>
      <${Evidence} items=${data.evidence} />
    </div>`
      : null
  }
  </aside>`;
}
