// The anomaly list: URL state, filters, rows and the virtualised list.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { TYPES } from "./charts.js";
import { fmtFull } from "./time.js";
import { ago, html, shown, useNow } from "./util.js";
import { LiveNews } from "./widgets.js";

export const FILTER_KEYS = ["type", "severity", "rule", "entity", "resolved", "acknowledged"];
export const PAGE = 100;
const ROW_H = 58;

// ---------------------------------------------------------------- URL state

/** The page's path of an anomaly (digests link here too): `/alerts/<id>`. */
export function alertPath(id) {
  return `/alerts/${encodeURIComponent(id)}`;
}

/** An anomaly opened in the list under `filters`: `/alerts/<id>?<filters>`. */
export function alertLink(id, filters = {}) {
  const q = filtersQuery(filters);
  return alertPath(id) + (q ? `?${q}` : "");
}

/**
 * The entity page's path: `/entities/<entity>`, with the list's `filters` in `?list=` (its own
 * `type` is the entity page's): its way back to the list restores them.
 */
export function entityPath(entity, filters = {}) {
  const q = filtersQuery(filters);
  return `/entities/${encodeURIComponent(entity)}${q ? `?list=${encodeURIComponent(q)}` : ""}`;
}

/**
 * The filters as a query (`type=logs&acknowledged=false`, "" for none), in a fixed order: equal
 * for equal filters.
 */
export function filtersQuery(filters) {
  const q = new URLSearchParams();
  for (const k of FILTER_KEYS) if (filters[k]) q.set(k, filters[k]);
  return q.toString();
}

/** The filters of a query (`URLSearchParams`), as the API reads them; unknown keys are left out. */
export function parseFilters(q) {
  const filters = {};
  for (const k of FILTER_KEYS) {
    const value = normalFilter(k, q.get(k) ?? "");
    if (value) filters[k] = value;
  }
  return filters;
}

function decode(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

const LISTS = { type: TYPES, severity: ["INFO", "WARNING", "CRITICAL"] };

/**
 * A filter from a link as the API reads it (and live alerts are matched): trimmed; a list of
 * types or severities (any case) in the order the filter's choices use. A value the API refuses
 * is kept, for its message.
 */
export function normalFilter(key, value) {
  const order = LISTS[key];
  if (!order) return value.trim();
  const parts = [
    ...new Set(value.split(",").map((x) => key === "severity" ? x.trim().toUpperCase() : x.trim())),
  ];
  if (!parts.every((p) => order.includes(p))) return value.trim();
  return parts.sort((a, b) => order.indexOf(a) - order.indexOf(b)).join(",");
}

/** Filters from the query; the open anomaly from `/alerts/<id>` or (older links) `?id=`. */
export function readUrl() {
  const q = new URLSearchParams(location.search);
  const m = /^\/alerts\/([^/]+)\/?$/.exec(location.pathname);
  return { filters: parseFilters(q), selected: m ? decode(m[1]) : q.get("id") ?? null };
}

/**
 * Keep the URL in step: `/alerts/<id>?<filters>` with an anomaly open, else `/?<filters>`; a new
 * history entry when `push`, else the current one rewritten.
 */
export function writeUrl(filters, selected, push = false) {
  const q = filtersQuery(filters);
  const url = selected ? alertLink(selected, filters) : "/" + (q ? `?${q}` : "");
  if (url === location.pathname + location.search) return;
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
}

/**
 * The address follows the view: opening or closing an anomaly and choosing filters are steps of
 * the browser's history (Back closes the detail, then undoes a filter; it used to leave Vigil);
 * the first address (a digest's link, `/?id=`) is only rewritten. Back and Forward give `onPop`
 * the address read. A render's address is not written when a Back or Forward came before its
 * effect ran (two quick Backs): the address is newer, and writing the older one as a new step
 * threw away the steps Forward redoes.
 */
export function useAddress(filters, selected, onPop) {
  const written = useRef(false);
  const pops = useRef(0);
  const popsAtRender = pops.current;
  useEffect(() => {
    if (popsAtRender === pops.current) writeUrl(filters, selected, written.current);
    written.current = true;
  }, [filters, selected]);
  useEffect(() => {
    const pop = () => {
      pops.current++;
      onPop(readUrl());
    };
    addEventListener("popstate", pop);
    return () => removeEventListener("popstate", pop);
  }, []);
}

/** Whether a live alert belongs in the list under `filters` (same rules as the API). */
export function matches(a, f) {
  if (f.type && !f.type.split(",").includes(a.type)) return false;
  if (f.severity && !f.severity.toUpperCase().split(",").includes(a.severity)) return false;
  if (f.rule && a.rule !== f.rule) return false;
  if (f.entity && a.entity !== f.entity) return false;
  if (f.resolved === "true" && !a.resolved_at) return false;
  if (f.resolved === "false" && a.resolved_at) return false;
  if (f.acknowledged === "true" && !a.acknowledged_at) return false;
  if (f.acknowledged === "false" && a.acknowledged_at) return false;
  return true;
}

/**
 * The list after a batch of live alerts (in arrival order): an alert already
 * listed updates its row; one not listed that matches `filters` (a resolution
 * only without an acknowledged filter: an alert does not tell it) takes its
 * place by detection time, newest first, as the API orders them (a new
 * anomaly on top; the resolution of an older one among its neighbours, not
 * on top as if it were news). One older than every listed row is left to the
 * next page when `more` (the server has more rows), else goes at the end.
 * Live additions never make the list longer than `max` rows or than it was:
 * the oldest rows are dropped (`dropped` says how many). One pass over the
 * list per batch, not per alert: an alert storm (thousands a second) froze
 * the page for a minute when each alert copied the whole list.
 */
export function mergeLive(old, batch, filters, max, more = false) {
  const index = new Map();
  old.forEach((x, i) => index.set(x.id, i));
  let rows = null; // a copy, once a listed row changes
  const added = [];
  const addedAt = new Map();
  for (const a of batch) {
    const i = index.get(a.id);
    if (i !== undefined) {
      rows ??= old.slice();
      rows[i] = { ...rows[i], ...a };
      continue;
    }
    const j = addedAt.get(a.id);
    if (j !== undefined) {
      added[j] = { ...added[j], ...a };
      continue;
    }
    if (!matches(a, filters)) continue;
    // An alert does not say whether its anomaly was acknowledged: under an acknowledged filter,
    // the resolution of one not listed (acknowledged, most likely) is left to a read of the list.
    if (filters.acknowledged && a.status !== "firing") continue;
    addedAt.set(a.id, added.length);
    added.push({ ...a, acknowledged_at: null, acknowledged_by: null, ack_comment: null });
  }
  if (added.length === 0) return { items: rows ?? old, dropped: 0 };
  // Newest first; the latest arrival first among equals (a stable sort of the reversed batch).
  const fresh = added.reverse().sort((a, b) => detectedMs(b) - detectedMs(a));
  const listed = rows ?? old;
  const all = [];
  let j = 0;
  for (const a of fresh) {
    const t = detectedMs(a);
    while (j < listed.length && detectedMs(listed[j]) > t) all.push(listed[j++]);
    if (j === listed.length && more) break; // older than every row: its page brings it
    all.push(a);
  }
  while (j < listed.length) all.push(listed[j++]);
  const keep = Math.max(max, old.length);
  return all.length > keep
    ? { items: all.slice(0, keep), dropped: all.length - keep }
    : { items: all, dropped: 0 };
}

/**
 * The list after anomaly `a` changed (acknowledged here or on another page, `a` holding what
 * changed): its row follows, and leaves a list whose `filters` it no longer matches ("not
 * acknowledged"), as a read of the list would. The same list when it is not listed.
 */
export function applyUpdate(items, a, filters) {
  const i = items.findIndex((x) => x.id === a.id);
  if (i < 0) return items;
  const row = { ...items[i], ...a };
  return matches(row, filters) ? items.with(i, row) : [...items.slice(0, i), ...items.slice(i + 1)];
}

/**
 * Focus the list as the detail of `id` closes: its row when in view; else, when the row left the
 * list (`gone`: it as it was listed), the row now in its place; else the list itself.
 */
export function focusList(id, items, gone) {
  const rowOf = (x) => document.querySelector(`.row[data-id="${CSS.escape(x)}"]`);
  let row = id === null ? null : rowOf(id);
  if (!row && gone?.id === id) {
    const next = items.find((x) => detectedMs(x) <= detectedMs(gone)) ?? items.at(-1);
    row = next ? rowOf(next.id) : null;
  }
  (row ?? document.querySelector(".list [role=list]"))?.focus({ preventScroll: !row });
}

/** When an alert was detected (ms); without a time, the newest. */
function detectedMs(a) {
  const ms = Date.parse(a.detected_at);
  return Number.isNaN(ms) ? Infinity : ms;
}

const SEVERITIES = [
  ["", "all"],
  ["CRITICAL", "critical"],
  ["WARNING,CRITICAL", "warning +"],
  ["WARNING", "warning"],
  ["INFO", "info"],
];
const STATUSES = [["", "all"], ["false", "open"], ["true", "resolved"]];
const ACKNOWLEDGED = [["", "all"], ["false", "not acknowledged"], ["true", "acknowledged"]];

/** One filter chosen from a list: `options` are [value, text] pairs. */
function Choice({ label, name, filters, set, options }) {
  const current = filters[name] ?? "";
  // A value from a link that is none of the choices (`logs,metrics`) still shows.
  const other = options.some(([value]) => value === current) ? null : current;
  return html`<label>${label}
    <select id=${`filter-${name}`} value=${current} onChange=${(e) =>
    set(name, e.currentTarget.value)}>
      ${options.map(([value, text]) => html`<option value=${value}>${text}</option>`)}
      ${other === null ? null : html`<option value=${other}>${other}</option>`}
    </select>
  </label>`;
}

export function Filters({ filters, onChange }) {
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
    <${Choice} label="Type" name="type" filters=${filters} set=${set}
      options=${[["", "all"], ...TYPES.map((t) => [t, t])]} />
    <${Choice} label="Severity" name="severity" filters=${filters} set=${set} options=${SEVERITIES} />
    <${Choice} label="Status" name="resolved" filters=${filters} set=${set} options=${STATUSES} />
    <${Choice} label="Acknowledged" name="acknowledged" filters=${filters} set=${set}
      options=${ACKNOWLEDGED} />
    <label>Rule
      <input id="filter-rule" value=${rule} placeholder="any" onInput=${(e) =>
    setRule(e.currentTarget.value)} onBlur=${submit} />
    </label>
    <label>Entity
      <input id="filter-entity" value=${entity} placeholder="any" onInput=${(e) =>
    setEntity(e.currentTarget.value)} onBlur=${submit} />
    </label>
    <button type="submit" class="hidden-submit" tabindex="-1">Apply</button>
    ${
    any
      ? html`<button type="button" class="link" onClick=${() => onChange({})}>Clear</button>`
      : null
  }
  </form>`;
}

/** One row: opens the anomaly (click, Enter or Space); its entity links to the entity page. */
export function Row({ a, fresh, selected, onSelect, now, top, filters }) {
  const open = () => onSelect(a.id);
  return html`
    <div role="listitem" tabindex="0"
      class=${`row sev-${a.severity}${fresh ? " fresh" : ""}${selected ? " selected" : ""}${
        a.resolved_at ? " resolved" : ""
      }`}
      style=${{ top: `${top}px`, height: `${ROW_H}px` }}
      data-id=${a.id} onClick=${open} aria-current=${selected ? "true" : undefined}
      onKeyDown=${(e) => {
        if (e.target === e.currentTarget && (e.key === "Enter" || e.key === " ")) {
          e.preventDefault();
          open();
        }
      }}>
      <span class="line1">
        <span class=${`badge sev-${a.severity}`}>${a.severity}</span>
        <span class="title">${a.title}</span>
        <span class="time" title=${fmtFull(a.detected_at)}>${ago(a.detected_at, now)}</span>
      </span>
      <span class="line2">
          <span class="meta">${a.type} · ${a.rule} · <a class="entity-link" href=${entityPath(
            a.entity,
            filters,
          )} onClick=${(e) => e.stopPropagation()} title="Entity page">${a.entity}</a></span>
          <span class="msg">${shown(a.message)}</span>
          ${a.resolved_at ? html`<span class="tag">resolved</span>` : null}
          ${a.acknowledged_at ? html`<span class="tag">ack</span>` : null}
        </span>
    </div>
  `;
}

/**
 * A virtualised list: only the rows in view (plus a margin) are in the DOM. Scrolling near the
 * end calls `onMore` unless `paused` (the last page failed: no request loop against a failing
 * server; the "Load more" button still asks). `failed`: the list could not be read (no "nothing
 * matches" then).
 */
export function AnomalyList(
  {
    items,
    fresh,
    selected,
    onSelect,
    onMore,
    hasMore,
    loading,
    paused = false,
    failed = false,
    filters = {},
  },
) {
  const ref = useRef(null);
  const [view, setView] = useState({ top: 0, height: 600 });
  const now = useNow(5000);
  const measure = useCallback(() => {
    const el = ref.current;
    if (!el) return;
    setView({ top: el.scrollTop, height: el.clientHeight });
    if (
      hasMore && !loading && !paused &&
      el.scrollTop + el.clientHeight > el.scrollHeight - ROW_H * 10
    ) {
      onMore();
    }
  }, [hasMore, loading, paused, onMore]);
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
        fresh=${fresh.has(a.id)} selected=${a.id === selected} onSelect=${onSelect}
        filters=${filters} />
    `);
  }
  return html`<div class="list" ref=${ref} onScroll=${measure}>
    <${LiveNews} items=${items} fresh=${fresh} />
    <div class="list-inner" style=${{
    height: `${items.length * ROW_H}px`,
  }} role="list" aria-label="Anomalies" tabindex="-1">${rows}</div>
    ${
    items.length === 0 && !loading && !failed
      ? html`<p class="empty">No anomalies match these filters.${
        filters.rule || filters.entity ? " Rule and entity match exactly." : ""
      }</p>`
      : null
  }
    <div class="list-foot">
      ${
    failed
      ? null
      : html`<span class="muted count">${items.length}${hasMore ? "+" : ""} shown</span>`
  }
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
