// Vigil live view: Preact + htm, no build step. Every piece of user-controlled
// text is rendered as a Preact text node (never as HTML).
import { render } from "preact";
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, coalesce, connectLive, getJson, useRetry } from "./api.js";
import { StackedBars, TYPES } from "./charts.js";
import { addDelta, forgetOld, liveDelta, noteResolved } from "./counts.js";
import { Detail } from "./detail.js";
import { ApiDocs } from "./docs.js";
import { EntityPage } from "./entity.js";
import {
  AnomalyList,
  applyUpdate,
  Filters,
  filtersQuery,
  focusList,
  mergeLive,
  PAGE,
  parseFilters,
  readUrl,
  useAddress,
} from "./list.js";
import { NotifyPanel } from "./notify.js";
import { SystemPanel } from "./system.js";
import { serverNow, useZone, zoneName } from "./time.js";
import { html } from "./util.js";
import { Counters, ErrorNote, LiveBadge, TokenHelp, TopBar } from "./widgets.js";

const FRESH_MS = 6000;
/** Live alerts are applied together, at most this often. */
const LIVE_FLUSH_MS = 150;
/** Live alerts never grow the list past this many rows (the oldest go; scrolling loads them). */
const MAX_LIVE_ROWS = 5000;

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
    fromMs: minuteOf(serverNow()) - 59 * 60_000,
    counts: new Map(),
  });
  useZone(); // every time shown re-renders when the zone changes
  const [needToken, setNeedToken] = useState(false);
  const filtersRef = useRef(filters);
  filtersRef.current = filters;
  const cursorRef = useRef(cursor);
  cursorRef.current = cursor;
  const itemsRef = useRef(items);
  itemsRef.current = items;
  const selectedRef = useRef(selected);
  selectedRef.current = selected;
  /** Live alerts about the open anomaly so far: its detail reads it again (resolved…). */
  const [detailNews, setDetailNews] = useState(0);
  const loadSeq = useRef(0);

  // The address follows the view; Back and Forward bring the view of theirs.
  useAddress(filters, selected, (url) => {
    setFilters(url.filters);
    setSelected(url.selected);
  });

  // A read that failed for a passing reason (a database out of reach: 503) is asked again
  // by itself, at the server's Retry-After, so the page recovers without a reload.
  const listRetry = useRetry();
  const moreRetry = useRetry();
  /** Reading the next page failed: shown, and loading by scrolling pauses until it is asked again. */
  const [moreError, setMoreError] = useState(null);
  const statsRetry = useRetry();
  const [statsError, setStatsError] = useState(null);

  /** Rows were dropped from the end by live alerts: the next page starts after the last row. */
  const trimmed = useRef(false);
  /**
   * Live alerts and acknowledgements applied while the first page is read: the page replaces the
   * list, so they are applied again on top of it (an alert stored after the server read the page,
   * a resolution or an acknowledgement, was lost when it reached the old list just before).
   */
  const sinceLoad = useRef(null);
  /** The open anomaly's row as it was when it last changed (it may have left the list since). */
  const gone = useRef(null);
  /** Alerts of the last hour the page knows resolved (id → detected ms): counted down once. */
  const resolvedIds = useRef(new Map());

  /**
   * Read the list from its newest row: one page, or with `keep` (after a reconnection) down to the
   * oldest row loaded (pages of up to 500, at most MAX_LIVE_ROWS rows), so the rows the user
   * scrolled to stay where they are, as they are now, with what was missed meanwhile.
   */
  const loadFirst = useCallback(async (keep = false) => {
    const seq = ++loadSeq.current;
    const live = sinceLoad.current = { alerts: [], acks: [] };
    trimmed.current = false;
    listRetry.cancel();
    moreRetry.cancel();
    setMoreError(null);
    setLoading(true);
    try {
      const loaded = keep ? itemsRef.current : [];
      const oldest = loaded.length ? Date.parse(loaded[loaded.length - 1].detected_at) : Infinity;
      const rows = [];
      let next;
      do {
        const limit = Math.min(500, Math.max(PAGE, loaded.length - rows.length + 1));
        const r = await getJson("/api/anomalies", { ...filtersRef.current, limit, cursor: next });
        if (seq !== loadSeq.current) return;
        rows.push(...r.items);
        next = r.next_cursor;
      } while (
        next && rows.length < MAX_LIVE_ROWS &&
        Date.parse(rows[rows.length - 1].detected_at) > oldest
      );
      noteResolved(resolvedIds.current, rows, serverNow());
      const merged = mergeLive(rows, live.alerts, filtersRef.current, MAX_LIVE_ROWS, Boolean(next));
      setItems(live.acks.reduce((l, a) => applyUpdate(l, a, filtersRef.current), merged.items));
      setCursor(next);
      setListError(null);
      setNeedToken(false);
    } catch (err) {
      if (seq !== loadSeq.current) return;
      setListError(err);
      if (err instanceof ApiError && err.status === 401) setNeedToken(true);
      listRetry.after(err, () => loadFirst(keep));
    } finally {
      if (seq === loadSeq.current) setLoading(false);
      if (sinceLoad.current === live) sinceLoad.current = null;
    }
  }, []);

  const loadMore = useCallback(async () => {
    if (!(cursor || trimmed.current) || loading) return;
    const seq = loadSeq.current;
    setLoading(true);
    try {
      // After dropped rows, from the last row shown (its millisecond included: seen rows are
      // skipped below); else where the last page ended.
      const last = items[items.length - 1];
      const from = trimmed.current && last ? { to: Date.parse(last.detected_at) + 1 } : { cursor };
      trimmed.current = false;
      try {
        const r = await getJson("/api/anomalies", { ...filtersRef.current, limit: PAGE, ...from });
        if (seq !== loadSeq.current) return;
        noteResolved(resolvedIds.current, r.items, serverNow());
        setItems((old) => {
          const have = new Set(old.map((a) => a.id));
          return [...old, ...r.items.filter((a) => !have.has(a.id))];
        });
        setCursor(r.next_cursor);
        setMoreError(null);
      } catch (err) {
        if (seq !== loadSeq.current) return;
        // The rows behind the end stay reachable: the same page is asked again ("Load more",
        // or by itself after a passing failure), not dropped with the failed request.
        if ("to" in from) trimmed.current = true;
        setMoreError(err);
        moreRetry.after(err, () => setMoreError(null));
      }
    } finally {
      if (seq === loadSeq.current) setLoading(false);
    }
  }, [cursor, loading, items]);

  const loadStats = useCallback(async (again = false) => {
    statsRetry.cancel();
    const to = minuteOf(serverNow()) + 60_000;
    const from = to - 60 * 60_000;
    try {
      const r = await getJson("/api/stats", { from, to, bucket: "minute" });
      // The answer set the clock right (serverNow): then its hour is the one to read.
      if (!again && minuteOf(serverNow()) + 60_000 !== to) return loadStats(true);
      const m = new Map();
      for (const p of r.points) {
        const t = Date.parse(p.t);
        const c = m.get(t) ?? {};
        c[p.type] = (c[p.type] ?? 0) + p.count;
        m.set(t, c);
      }
      setChart({ fromMs: from, counts: m });
      forgetOld(resolvedIds.current, serverNow());
      setCounts((old) => ({
        ...old,
        last_hour: r.totals.by_severity,
        open_last_hour: r.totals.open,
      }));
      setStatsError(null);
    } catch (err) {
      // The chart and counters keep what they last showed ("–" if nothing yet), with the error.
      setStatsError(err);
      statsRetry.after(err, () => loadStats());
    }
  }, []);

  // Other filters: the rows shown are not their answer. The list empties (so it starts at the
  // top, at their newest rows, not where the old list was scrolled), then reads them.
  const filterKey = filtersQuery(filters);
  const readKey = useRef(filterKey);
  useEffect(() => {
    if (readKey.current !== filterKey) {
      readKey.current = filterKey;
      setItems([]);
      setCursor(null);
    }
    loadFirst();
  }, [filterKey]);

  useEffect(() => {
    loadStats();
    const t = setInterval(loadStats, 60_000);
    return () => clearInterval(t);
  }, []);

  const liveQueue = useRef([]);
  const flushLive = useCallback(() => {
    const batch = liveQueue.current.splice(0);
    if (batch.length === 0) return;
    if (sinceLoad.current) { for (const a of batch) sinceLoad.current.alerts.push(a); }
    setItems((old) => {
      const more = Boolean(cursorRef.current) || trimmed.current;
      const r = mergeLive(old, batch, filtersRef.current, MAX_LIVE_ROWS, more);
      if (r.dropped > 0) trimmed.current = true;
      return r.items;
    });
    const ids = batch.map((a) => a.id);
    if (ids.includes(selectedRef.current)) setDetailNews((n) => n + 1);
    setFresh((old) => new Set([...old, ...ids]));
    setTimeout(() =>
      setFresh((old) => {
        const n = new Set(old);
        for (const id of ids) n.delete(id);
        return n;
      }), FRESH_MS);
    // Firing alerts count, resolutions of the last hour count down the open ones (once each).
    const delta = liveDelta(batch, resolvedIds.current, serverNow());
    setCounts((old) => addDelta(old, delta));
    const firing = batch.filter((a) => a.status === "firing");
    if (firing.length === 0) return;
    setChart((old) => {
      const m = new Map(old.counts);
      for (const a of firing) {
        const t = minuteOf(Date.parse(a.detected_at));
        const c = { ...(m.get(t) ?? {}) };
        c[a.type] = (c[a.type] ?? 0) + 1;
        m.set(t, c);
      }
      const fromMs = Math.max(old.fromMs, minuteOf(serverNow()) - 59 * 60_000);
      return { fromMs, counts: m };
    });
  }, []);
  // Alerts arriving together are applied together: one flush at a time, at most every
  // LIVE_FLUSH_MS (the entity page merges its reloads the same way).
  const liveFlush = useMemo(() => coalesce(() => Promise.resolve(flushLive()), LIVE_FLUSH_MS), []);
  useEffect(() => () => liveFlush.cancel(), []);
  const onAlert = useCallback((a) => {
    liveQueue.current.push(a);
    liveFlush();
  }, []);
  // An anomaly changed (acknowledged from the detail, or on any page: an `ack` live event): its
  // row follows, and leaves a list whose filters it no longer matches, as a read would.
  const updated = useCallback((a) => {
    const row = itemsRef.current.find((x) => x.id === a.id);
    if (row && a.id === selectedRef.current) gone.current = row;
    sinceLoad.current?.acks.push(a);
    setItems((old) => applyUpdate(old, a, filtersRef.current));
  }, []);
  const onAck = useCallback((a) => {
    // Its alert may still wait for the next flush (alerts are applied every LIVE_FLUSH_MS at
    // most): applied first, or the ack found no row and the alert then came in unacknowledged.
    flushLive();
    updated(a);
    if (a.id === selectedRef.current) setDetailNews((n) => n + 1); // its detail shows who
  }, []);

  useEffect(() =>
    connectLive({
      onStatus: (state, info) => {
        setLive({ state, reason: info.reason });
        const first = info.first === true;
        if (state === "live" && (info.reconnected || first)) {
          // Alerts published while disconnected are not replayed: read again what is loaded
          // (not only the first page: the user stays where they scrolled) and the open anomaly.
          // Also when the stream first starts: the list read at start may have been answered
          // before the stream began, and what was published in between never arrived (the
          // first page read again as it was, unless the user scrolled further meanwhile).
          loadFirst(!first || itemsRef.current.length > PAGE);
          loadStats();
          if (selectedRef.current !== null) setDetailNews((n) => n + 1);
        }
      },
      onEvent: (name, data) => {
        if (name === "alert") onAlert(data);
        else if (name === "ack") onAck(data);
        else if (name === "stats" && data.stats) setCounts(data.stats);
      },
    }), []);

  const select = useCallback((id) => setSelected(id), []);
  const close = useCallback(() => {
    // Focus goes back to the row the detail was opened from, or the one in its place, or the list.
    const inDetail = document.activeElement?.closest(".detail");
    setSelected(null);
    if (inDetail) focusList(selectedRef.current, itemsRef.current, gone.current);
  }, []);

  return html`
    <div class=${`shell${selected ? " has-detail" : ""}`}>
      <${TopBar}>
          <${LiveBadge} status=${live} />
          <${Counters} counts=${counts} />
        <//>
        <main class="main">
          <section class="card chart-card" aria-label="Anomalies per minute">
            <div class="card-head"><h2>Last hour, per minute <span class="chart-zone">(${zoneName()})</span></h2>
              <div class="legend">${TYPES.map((t) =>
                html`<span key=${t}><i class=${`sw t-${t}`}></i>${t}</span>`
              )}</div>
            </div>
            <${StackedBars} counts=${chart.counts} fromMs=${chart.fromMs} minutes=${60} />
            <${ErrorNote} error=${statsError} prefix="Cannot read the last hour: " retries />
          </section>
          <${NotifyPanel} />
          <${SystemPanel} />
          <section class="card list-card" aria-label="Anomaly list">
            <${Filters} filters=${filters} onChange=${setFilters} />
            ${needToken
              ? html`
                <div class="banner">
                  <${TokenHelp} error=${listError} reading=${true}
                    onSaved=${loadFirst} />
                </div>
              `
              : null}
            ${listError && !needToken ? html`<${ErrorNote} error=${listError} retries />` : null}
            <${AnomalyList} items=${items} fresh=${fresh} selected=${selected} onSelect=${select}
              onMore=${loadMore} hasMore=${Boolean(cursor) || trimmed.current} loading=${loading}
              paused=${Boolean(moreError)} failed=${Boolean(listError) && items.length === 0}
              filters=${filters} />
            <${ErrorNote} error=${moreError} prefix="Cannot load older anomalies: " retries />
          </section>
        </main>
        ${selected
          ? html`
            <${Detail} id=${selected} news=${detailNews} filters=${filters} onClose=${close}
              onUpdated=${updated} />
          `
          : null}
      </div>
  `;
}

// ---------------------------------------------------------------- views by path

function decodePath(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The view of this URL: the API docs, an entity page, or the live view (`/`, `/alerts/<id>`). */
function Root() {
  const path = location.pathname;
  if (path === "/api/docs") return html`<${ApiDocs} />`;
  const entity = /^\/entities\/([^/]+)\/?$/.exec(path);
  if (entity) {
    const q = new URLSearchParams(location.search);
    const type = q.get("type");
    // The list's filters it was opened from (`?list=`): its way back restores them.
    const list = parseFilters(new URLSearchParams(q.get("list") ?? ""));
    return html`
      <${EntityPage} entity=${decodePath(entity[1])}
        type=${TYPES.includes(type) ? type : undefined} list=${list} />
    `;
  }
  return html`<${App} />`;
}

const root = document.getElementById("app");
// Preact renders next to children it did not create: remove the "Loading Vigil…" placeholder.
root.replaceChildren();
render(html`<${Root} />`, root);
