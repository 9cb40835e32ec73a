// Vigil live view: Preact + htm, no build step. Every piece of user-controlled
// text is rendered as a Preact text node (never as HTML).
import { h, render } from "preact";
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import htm from "htm";
import { ApiError, connectLive, getJson, getToken, sendJson, setToken } from "./api.js";
import { fmtNum, Sparkline, StackedBars, TYPES } from "./charts.js";

const html = htm.bind(h);

const SEVERITIES = ["CRITICAL", "WARNING", "INFO"];
const FILTER_KEYS = ["type", "severity", "rule", "entity", "resolved"];
const PAGE = 100;
const ROW_H = 58;
const FRESH_MS = 6000;

// ---------------------------------------------------------------- URL state

function readUrl() {
  const q = new URLSearchParams(location.search);
  const filters = {};
  for (const k of FILTER_KEYS) if (q.get(k)) filters[k] = q.get(k);
  return { filters, selected: q.get("id") ?? null };
}

function writeUrl(filters, selected) {
  const q = new URLSearchParams();
  for (const k of FILTER_KEYS) if (filters[k]) q.set(k, filters[k]);
  if (selected) q.set("id", selected);
  const url = q.size ? `?${q}` : location.pathname;
  if (url !== location.search && !(url === location.pathname && !location.search)) {
    history.replaceState(null, "", url);
  }
}

/** Whether a live alert belongs in the list under `filters` (same rules as the API). */
function matches(a, f) {
  if (f.type && !f.type.split(",").includes(a.type)) return false;
  if (f.severity && !f.severity.toUpperCase().split(",").includes(a.severity)) return false;
  if (f.rule && a.rule !== f.rule) return false;
  if (f.entity && a.entity !== f.entity) return false;
  if (f.resolved === "true" && !a.resolved_at) return false;
  if (f.resolved === "false" && a.resolved_at) return false;
  return true;
}

// ---------------------------------------------------------------- formatting

function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  const today = new Date().toDateString() === d.toDateString();
  return today
    ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })
    : d.toLocaleString([], {
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
    });
}

function ago(iso, now) {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

function fmtValue(v) {
  if (typeof v === "number") return fmtNum(v);
  if (v === null || v === undefined) return "—";
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

function useNow(ms) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

// ---------------------------------------------------------------- theme

const THEMES = ["auto", "light", "dark"];
function useTheme() {
  const [theme, setTheme] = useState(() => {
    try {
      return localStorage.getItem("vigil.theme") ?? "auto";
    } catch {
      return "auto";
    }
  });
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    try {
      localStorage.setItem("vigil.theme", theme);
    } catch {
      // ignore
    }
  }, [theme]);
  return [theme, () => setTheme(THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length])];
}

// ---------------------------------------------------------------- components

function LiveBadge({ status }) {
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

function Counters({ counts }) {
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

function Filters({ filters, onChange }) {
  const [rule, setRule] = useState(filters.rule ?? "");
  const [entity, setEntity] = useState(filters.entity ?? "");
  useEffect(() => {
    setRule(filters.rule ?? "");
    setEntity(filters.entity ?? "");
  }, [filters.rule, filters.entity]);
  const set = (k, v) => onChange({ ...filters, [k]: v || undefined });
  const submit = (e) => {
    e.preventDefault();
    onChange({ ...filters, rule: rule.trim() || undefined, entity: entity.trim() || undefined });
  };
  const any = FILTER_KEYS.some((k) => filters[k]);
  return html`<form class="filters" onSubmit=${submit} aria-label="Filters">
    <label>Type
      <select id="filter-type" value=${filters.type ?? ""} onChange=${(e) =>
    set("type", e.currentTarget.value)}>
        <option value="">all</option>
        ${TYPES.map((t) => html`<option value=${t}>${t}</option>`)}
      </select>
    </label>
    <label>Severity
      <select id="filter-severity" value=${filters.severity ?? ""} onChange=${(e) =>
    set("severity", e.currentTarget.value)}>
        <option value="">all</option>
        <option value="CRITICAL">critical</option>
        <option value="WARNING,CRITICAL">warning +</option>
        <option value="WARNING">warning</option>
        <option value="INFO">info</option>
      </select>
    </label>
    <label>Status
      <select id="filter-resolved" value=${filters.resolved ?? ""} onChange=${(e) =>
    set("resolved", e.currentTarget.value)}>
        <option value="">all</option>
        <option value="false">open</option>
        <option value="true">resolved</option>
      </select>
    </label>
    <label>Rule
      <input id="filter-rule" value=${rule} placeholder="any" onInput=${(e) =>
    setRule(e.currentTarget.value)} onBlur=${submit} />
    </label>
    <label>Entity
      <input id="filter-entity" value=${entity} placeholder="any" onInput=${(e) =>
    setEntity(e.currentTarget.value)} onBlur=${submit} />
    </label>
    <button type="submit" class="hidden-submit">Apply</button>
    ${
    any
      ? html`<button type="button" class="link" onClick=${() => onChange({})}>Clear</button>`
      : null
  }
  </form>`;
}

function Row({ a, fresh, selected, onSelect, now, top }) {
  return html`
    <button type="button" role="listitem"
      class=${`row sev-${a.severity}${fresh ? " fresh" : ""}${selected ? " selected" : ""}${
        a.resolved_at ? " resolved" : ""
      }`}
      style=${{ top: `${top}px`, height: `${ROW_H}px` }}
      data-id=${a.id} onClick=${() => onSelect(a.id)} aria-current=${selected ? "true" : undefined}>
      <span class="line1">
        <span class=${`badge sev-${a.severity}`}>${a.severity}</span>
        <span class="title">${a.title}</span>
        <span class="time" title=${a.detected_at}>${ago(a.detected_at, now)}</span>
      </span>
      <span class="line2">
          <span class="meta">${a.type} · ${a.rule} · ${a.entity}</span>
          <span class="msg">${a.message}</span>
          ${a.resolved_at ? html`<span class="tag">resolved</span>` : null}
          ${a.acknowledged_at ? html`<span class="tag">ack</span>` : null}
        </span>
    </button>
  `;
}

/** A virtualised list: only the rows in view (plus a margin) are in the DOM. */
function AnomalyList({ items, fresh, selected, onSelect, onMore, hasMore, loading }) {
  const ref = useRef(null);
  const [view, setView] = useState({ top: 0, height: 600 });
  const now = useNow(5000);
  const measure = useCallback(() => {
    const el = ref.current;
    if (!el) return;
    setView({ top: el.scrollTop, height: el.clientHeight });
    if (hasMore && !loading && el.scrollTop + el.clientHeight > el.scrollHeight - ROW_H * 10) {
      onMore();
    }
  }, [hasMore, loading, onMore]);
  useEffect(() => {
    measure();
    addEventListener("resize", measure);
    return () => removeEventListener("resize", measure);
  }, [measure, items.length]);
  const first = Math.max(0, Math.floor(view.top / ROW_H) - 10);
  const last = Math.min(items.length, Math.ceil((view.top + view.height) / ROW_H) + 10);
  const rows = [];
  for (let i = first; i < last; i++) {
    const a = items[i];
    rows.push(html`
      <${Row} key=${a.id} a=${a} top=${i * ROW_H} now=${now}
        fresh=${fresh.has(a.id)} selected=${a.id === selected} onSelect=${onSelect} />
    `);
  }
  return html`<div class="list" ref=${ref} onScroll=${measure} role="list" aria-label="Anomalies">
    <div class="list-inner" style=${{ height: `${items.length * ROW_H}px` }}>${rows}</div>
    ${
    items.length === 0 && !loading
      ? html`<p class="empty">No anomalies match these filters.</p>`
      : null
  }
    <div class="list-foot">
      <span class="muted count">${items.length}${hasMore ? "+" : ""} shown</span>
      ${
    hasMore
      ? html`<button type="button" class="link" disabled=${loading} onClick=${onMore}>${
        loading ? "Loading…" : "Load more"
      }</button>`
      : null
  }
    </div>
  </div>`;
}

function TokenField({ onSaved }) {
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

function ErrorNote({ error }) {
  if (!error) return null;
  return html`<p class="error" role="alert">${error.message}</p>`;
}

function AckForm({ anomaly, onDone }) {
  const [by, setBy] = useState(() => localStorage.getItem("vigil.user") ?? "");
  const [comment, setComment] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      localStorage.setItem("vigil.user", by);
      const r = await sendJson("POST", `/api/anomalies/${encodeURIComponent(anomaly.id)}/ack`, {
        by,
        comment,
      });
      onDone(r.anomaly);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="action-form" onSubmit=${submit}>
    <label>Your name <input id="ack-by" required maxlength="200" value=${by} onInput=${(e) =>
    setBy(e.currentTarget.value)} /></label>
    <label>Comment <input id="ack-comment" maxlength="2000" value=${comment} onInput=${(e) =>
    setComment(e.currentTarget.value)} /></label>
    <button type="submit" disabled=${busy}>Acknowledge</button>
    <${ErrorNote} error=${error} />
    ${
    error instanceof ApiError && (error.status === 401 || error.status === 503)
      ? html`<${TokenField} />`
      : null
  }
  </form>`;
}

function SilenceForm({ anomaly, onDone }) {
  const [author, setAuthor] = useState(() => localStorage.getItem("vigil.user") ?? "");
  const [duration, setDuration] = useState("1h");
  const [comment, setComment] = useState("");
  const [scope, setScope] = useState({ rule: true, entity: true, type: false, severity: false });
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    const matchers = {};
    for (const k of Object.keys(scope)) if (scope[k]) matchers[k] = anomaly[k];
    try {
      const r = await sendJson("POST", "/api/silences", { matchers, duration, author, comment });
      onDone(r.silence);
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="action-form" onSubmit=${submit}>
    <fieldset><legend>Silence alerts with the same</legend>
      ${
    Object.keys(scope).map((k) =>
      html`<label class="check" key=${k}><input type="checkbox" checked=${scope[k]}
          onChange=${(e) => setScope({ ...scope, [k]: e.currentTarget.checked })} />
        ${k} <code>${anomaly[k]}</code></label>`
    )
  }
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
    <button type="submit">Silence</button>
    <${ErrorNote} error=${error} />
    ${
    error instanceof ApiError && (error.status === 401 || error.status === 503)
      ? html`<${TokenField} />`
      : null
  }
  </form>`;
}

const THRESHOLD_KEYS = /threshold|limit|max|min|upper|lower|bound|expected|baseline|mean|median/i;

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
            <td>${fmtValue(v)}</td>
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
      { measure, from: t - 30 * 60_000, to: t + 30 * 60_000, limit: 300 },
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
  if (!shown.length) {
    return html`<p class="muted">No cached values around this time (the cache keeps recent points only).</p>`;
  }
  const d = anomaly.details ?? {};
  const threshold = typeof d.threshold === "number" ? d.threshold : undefined;
  // The statistical rules record the band they expected the value in.
  const band = typeof d.expected_low === "number" && typeof d.expected_high === "number"
    ? { low: d.expected_low, high: d.expected_high }
    : undefined;
  // Lines and bands belong to the rule's own measure, when it names one.
  const own = (s) => typeof d.measure !== "string" || d.measure === s.measure;
  return html`<div class="sparks">${
    shown.map((s) =>
      html`
        <${Sparkline} key=${s.measure} points=${s.points} label=${s.measure}
          threshold=${own(s) ? threshold : undefined} band=${own(s) ? band : undefined}
          markTs=${Date.parse(anomaly.event_time)} />
      `
    )
  }</div>`;
}

/** Where the raw archive keeps the event: its object, or where it will be. */
function ArchiveLine({ archive }) {
  if (archive.lookup === "found") {
    return html`<div class="ev-sub archive-found">archive object <code>${
      archive.url ??
        archive.object
    }</code></div>`;
  }
  const where = archive.url ?? archive.folder;
  return html`<div class="ev-sub">${
    archive.lookup === "not_archived" ? "not archived yet; will be under" : "archive folder"
  } <code>${where}</code> as <code>${archive.object_pattern}</code></div>`;
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
              <pre>${typeof e.event === "string" ? e.event : JSON.stringify(e.event, null, 2)}</pre>
            </details>
          `
          : null
      }
      </li>`
    )
  }</ul>`;
}

function Detail({ id, onClose, onUpdated }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [mode, setMode] = useState(null);
  const [notice, setNotice] = useState(null);
  const load = useCallback(() => {
    setError(null);
    return getJson(`/api/anomalies/${encodeURIComponent(id)}`).then(setData).catch(setError);
  }, [id]);
  useEffect(() => {
    setData(null);
    setMode(null);
    setNotice(null);
    load();
  }, [id]);
  useEffect(() => {
    const onKey = (e) => e.key === "Escape" && onClose();
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, [onClose]);
  const a = data?.anomaly;
  return html`<aside class="detail" aria-label="Anomaly detail">
    <header class="detail-head">
      <button type="button" class="close" onClick=${onClose} aria-label="Close detail">×</button>
      ${a ? html`<span class=${`badge sev-${a.severity}`}>${a.severity}</span>` : null}
      <h2>${a ? a.title : error ? "Not available" : "Loading…"}</h2>
    </header>
    <${ErrorNote} error=${error} />
    ${
    a
      ? html`<div class="detail-body">
      <p class="message">${a.message}</p>
      <dl class="facts">
        <div><dt>Status</dt><dd>${a.status}${
        a.resolved_at ? ` at ${fmtTime(a.resolved_at)}` : ""
      }</dd></div>
        <div><dt>Type · rule</dt><dd>${a.type} · ${a.rule}</dd></div>
        <div><dt>Entity</dt><dd>${a.entity}</dd></div>
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
                ? ` — “${a.ack_comment}”`
                : ""}</dd>
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
      <div class="actions">
        <button type="button" onClick=${() => setMode(mode === "ack" ? null : "ack")}
          aria-expanded=${mode === "ack"}>${
        a.acknowledged_at ? "Re-acknowledge" : "Acknowledge"
      }</button>
        <button type="button" onClick=${() => setMode(mode === "silence" ? null : "silence")}
          aria-expanded=${mode === "silence"}>Silence…</button>
        <a href=${`/api/anomalies/${
        encodeURIComponent(a.id)
      }`} target="_blank" rel="noopener">JSON</a>
      </div>
      ${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
      ${
        mode === "ack"
          ? html`<${AckForm} anomaly=${a} onDone=${(updated) => {
            setMode(null);
            setNotice("Acknowledged.");
            setData({ ...data, anomaly: updated });
            onUpdated(updated);
          }} />`
          : null
      }
      ${
        mode === "silence"
          ? html`<${SilenceForm} anomaly=${a} onDone=${(s) => {
            setMode(null);
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

// ---------------------------------------------------------------- the app

function minuteOf(ms) {
  return Math.floor(ms / 60_000) * 60_000;
}

function App() {
  const initial = useMemo(readUrl, []);
  const [filters, setFilters] = useState(initial.filters);
  const [selected, setSelected] = useState(initial.selected);
  const [items, setItems] = useState([]);
  const [cursor, setCursor] = useState(null);
  const [loading, setLoading] = useState(false);
  const [listError, setListError] = useState(null);
  const [fresh, setFresh] = useState(() => new Set());
  const [live, setLive] = useState({ state: "connecting" });
  const [counts, setCounts] = useState({});
  const [chart, setChart] = useState({
    fromMs: minuteOf(Date.now()) - 59 * 60_000,
    counts: new Map(),
  });
  const [theme, nextTheme] = useTheme();
  const [needToken, setNeedToken] = useState(false);
  const filtersRef = useRef(filters);
  filtersRef.current = filters;
  const loadSeq = useRef(0);

  useEffect(() => writeUrl(filters, selected), [filters, selected]);

  const loadFirst = useCallback(async () => {
    const seq = ++loadSeq.current;
    setLoading(true);
    try {
      const r = await getJson("/api/anomalies", { ...filtersRef.current, limit: PAGE });
      if (seq !== loadSeq.current) return;
      setItems(r.items);
      setCursor(r.next_cursor);
      setListError(null);
      setNeedToken(false);
    } catch (err) {
      if (seq !== loadSeq.current) return;
      setListError(err);
      if (err instanceof ApiError && err.status === 401) setNeedToken(true);
    } finally {
      if (seq === loadSeq.current) setLoading(false);
    }
  }, []);

  const loadMore = useCallback(async () => {
    if (!cursor || loading) return;
    const seq = loadSeq.current;
    setLoading(true);
    try {
      const r = await getJson("/api/anomalies", { ...filtersRef.current, limit: PAGE, cursor });
      if (seq !== loadSeq.current) return;
      setItems((old) => {
        const have = new Set(old.map((a) => a.id));
        return [...old, ...r.items.filter((a) => !have.has(a.id))];
      });
      setCursor(r.next_cursor);
    } catch (err) {
      setListError(err);
    } finally {
      if (seq === loadSeq.current) setLoading(false);
    }
  }, [cursor, loading]);

  const loadStats = useCallback(async () => {
    const to = minuteOf(Date.now()) + 60_000;
    const from = to - 60 * 60_000;
    try {
      const r = await getJson("/api/stats", { from, to, bucket: "minute" });
      const m = new Map();
      for (const p of r.points) {
        const t = Date.parse(p.t);
        const c = m.get(t) ?? {};
        c[p.type] = (c[p.type] ?? 0) + p.count;
        m.set(t, c);
      }
      setChart({ fromMs: from, counts: m });
      setCounts((old) => ({
        ...old,
        last_hour: r.totals.by_severity,
        open_last_hour: r.totals.open,
      }));
    } catch {
      // The chart keeps its last data; the list shows API errors.
    }
  }, []);

  useEffect(() => {
    loadFirst();
  }, [filters]);

  useEffect(() => {
    loadStats();
    const t = setInterval(loadStats, 60_000);
    return () => clearInterval(t);
  }, []);

  const onAlert = useCallback((a) => {
    const isNew = { current: true };
    setItems((old) => {
      const i = old.findIndex((x) => x.id === a.id);
      if (i >= 0) {
        isNew.current = false;
        const copy = old.slice();
        copy[i] = { ...old[i], ...a };
        return copy;
      }
      if (!matches(a, filtersRef.current)) return old;
      return [{ ...a, acknowledged_at: null, acknowledged_by: null, ack_comment: null }, ...old];
    });
    setFresh((old) => new Set(old).add(a.id));
    setTimeout(() =>
      setFresh((old) => {
        const n = new Set(old);
        n.delete(a.id);
        return n;
      }), FRESH_MS);
    if (a.status === "firing") {
      setCounts((old) => ({
        ...old,
        last_hour: { ...old.last_hour, [a.severity]: (old.last_hour?.[a.severity] ?? 0) + 1 },
        open_last_hour: (old.open_last_hour ?? 0) + 1,
      }));
      setChart((old) => {
        const t = minuteOf(Date.parse(a.detected_at));
        const m = new Map(old.counts);
        const c = { ...(m.get(t) ?? {}) };
        c[a.type] = (c[a.type] ?? 0) + 1;
        m.set(t, c);
        const fromMs = Math.max(old.fromMs, minuteOf(Date.now()) - 59 * 60_000);
        return { fromMs, counts: m };
      });
    }
  }, []);

  useEffect(() =>
    connectLive({
      onStatus: (state, info) => {
        setLive({ state, reason: info.reason });
        if (state === "live" && info.reconnected) {
          // Alerts published while disconnected are not replayed: reload what is on screen.
          loadFirst();
          loadStats();
        }
      },
      onEvent: (name, data) => {
        if (name === "alert") onAlert(data);
        else if (name === "stats" && data.stats) setCounts(data.stats);
      },
    }), []);

  const select = useCallback((id) => setSelected(id), []);
  const close = useCallback(() => setSelected(null), []);
  const updated = useCallback(
    (a) => setItems((old) => old.map((x) => (x.id === a.id ? { ...x, ...a } : x))),
    [],
  );

  return html`<div class=${`shell${selected ? " has-detail" : ""}`}>
    <header class="top">
      <div class="brand"><span class="logo" aria-hidden="true"></span><h1>Vigil</h1></div>
      <${LiveBadge} status=${live} />
      <${Counters} counts=${counts} />
      <button type="button" class="theme" onClick=${nextTheme} title="Theme">
        ${theme === "auto" ? "◐ auto" : theme === "dark" ? "● dark" : "○ light"}
      </button>
    </header>
    <main class="main">
      <section class="card chart-card" aria-label="Anomalies per minute">
        <div class="card-head"><h2>Last hour, per minute</h2>
          <div class="legend">${
    TYPES.map((t) => html`<span key=${t}><i class=${`sw t-${t}`}></i>${t}</span>`)
  }</div>
        </div>
        <${StackedBars} counts=${chart.counts} fromMs=${chart.fromMs} minutes=${60} />
      </section>
      <section class="card list-card" aria-label="Anomaly list">
        <${Filters} filters=${filters} onChange=${setFilters} />
        ${
    needToken
      ? html`
        <div
          class="banner">This server needs an API token to read. <${TokenField} onSaved=${loadFirst} /></div>
      `
      : null
  }
        ${listError && !needToken ? html`<${ErrorNote} error=${listError} />` : null}
        <${AnomalyList} items=${items} fresh=${fresh} selected=${selected} onSelect=${select}
          onMore=${loadMore} hasMore=${Boolean(cursor)} loading=${loading} />
      </section>
    </main>
    ${selected ? html`<${Detail} id=${selected} onClose=${close} onUpdated=${updated} />` : null}
  </div>`;
}

render(html`<${App} />`, document.getElementById("app"));
