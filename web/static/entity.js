// The entity page (/entities/<entity>): a service, user or status — its current state, its
// cached score series with the band the engine expected, and its recent anomalies.
import { useCallback, useEffect, useState } from "preact/hooks";
import { coalesce, connectLive, getJson, useRetry } from "./api.js";
import { NO_SERIES, Sparkline } from "./charts.js";
import { alertLink, entityPath, filtersQuery } from "./list.js";
import { fmtFull, fmtTime, useZone } from "./time.js";
import { ago, count, html, useNow } from "./util.js";
import { ErrorNote, LiveBadge, TopBar } from "./widgets.js";

const STATE_TEXT = {
  firing: "Firing",
  resolved: "Resolved",
  quiet: "No anomalies",
};

function StateCard({ data, now }) {
  const s = data.state;
  return html`
    <section class="card entity-state" aria-label="Current state">
      <div class="entity-title">
        <h2 class="entity-name">${data.entity}</h2>
        <span class=${`state state-${s.status}`} data-state=${s
          .status}>${STATE_TEXT[s.status]}</span>
      </div>
      <dl class="facts">
        <div>
          <dt>Open</dt>
          <dd class="open-count">${s.open} of ${count(s.anomalies, "anomaly", "anomalies")}</dd>
        </div>
        <div>
          <dt>Last seen</dt>
          <dd class="last-seen" title=${s.last_seen_at
            ? fmtFull(s.last_seen_at)
            : ""}>${s.last_seen_at
            ? html`${fmtTime(s.last_seen_at)} <span class="muted">(${
              ago(s.last_seen_at, now)
            })</span>`
            : "—"}</dd>
        </div>
        <div>
          <dt>Last anomaly</dt>
          <dd>${fmtTime(s.last_anomaly_at)}</dd>
        </div>
        <div>
          <dt>Types</dt>
          <dd>${data.types.length ? data.types.join(", ") : "—"}</dd>
        </div>
      </dl>
    </section>
  `;
}

function SeriesCard({ series }) {
  return html`<section class="card entity-series" aria-label="Cached series">
    <div class="card-head"><h2>Measures (detector cache, recent points)</h2></div>
    ${
    series.length
      ? html`<div class="sparks entity-sparks">${
        series.map((s) =>
          html`
            <${Sparkline} key=${s.type + s.measure} points=${s.points}
              label=${`${s.measure} (${s.type})`} />
          `
        )
      }</div>`
      : html`<p class="muted pad">${NO_SERIES}</p>`
  }
  </section>`;
}

function AnomalyLinks({ items, now, list }) {
  return html`<section class="card entity-anomalies" aria-label="Recent anomalies">
    <div class="card-head"><h2>Recent anomalies</h2></div>
    ${
    items.length
      ? html`<ul class="links">${
        items.map((a) =>
          html`
            <li key=${a.id}>
              <a href=${alertLink(a.id, list)} class=${`alink sev-${a.severity}`} data-id=${a.id}>
                          <span class=${`badge sev-${a.severity}`}>${a.severity}</span>
                          <span class="title">${a.title}</span>
                          <span class="when" title=${fmtFull(a.detected_at)}>${fmtTime(
                            a.detected_at,
                          )} · ${ago(a.detected_at, now)}</span>
                          <span class="meta">${a.type} · ${a.rule}</span>
                          ${a.resolved_at ? html`<span class="tag">resolved</span>` : null}
                          ${a.acknowledged_at ? html`<span class="tag">ack</span>` : null}
                        </a>
            </li>
          `
        )
      }</ul>`
      : html`<p class="muted pad">None recorded.</p>`
  }
  </section>`;
}

/** The entity page narrowed to type `t` (all types when null), the list's filters kept. */
function typePath(entity, t, list) {
  const path = entityPath(entity, list);
  if (!t) return path;
  return path + (path.includes("?") ? "&" : "?") + `type=${encodeURIComponent(t)}`;
}

/**
 * The entity page; `type` narrows it to one event type. `list`: the filters of the list it was
 * opened from, kept by its links back to the list (and to its anomalies, opened in that list).
 */
export function EntityPage({ entity, type, list = {} }) {
  const listQuery = filtersQuery(list);
  const query = listQuery ? `?${listQuery}` : "";
  useZone();
  const now = useNow(5000);
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [live, setLive] = useState({ state: "connecting" });
  const retry = useRetry();
  const load = useCallback(() => {
    retry.cancel();
    return getJson(`/api/entities/${encodeURIComponent(entity)}`, { type, limit: 30 })
      .then((d) => {
        setData(d);
        setError(null);
      }, (err) => {
        setError(err);
        retry.after(err, load); // a database out of reach (503): not only every 30 s
      });
  }, [entity, type]);
  useEffect(() => {
    document.title = `Vigil · ${entity}`;
    // Reads are merged (at most one a second, one at a time): a storm of alerts about this
    // entity must not queue a request per alert.
    const reload = coalesce(load, 1000);
    reload();
    const t = setInterval(reload, 30_000);
    const stop = connectLive({
      onStatus: (state, info) => {
        setLive({ state, reason: info.reason });
        // Alerts published while disconnected (or before the stream first started, after the
        // first read) are not replayed: read the state again.
        if (state === "live" && (info.reconnected || info.first)) reload();
      },
      // An alert or an acknowledgement about this entity: read its state again.
      onEvent: (name, a) => (name === "alert" || name === "ack") && a.entity === entity && reload(),
    });
    return () => {
      clearInterval(t);
      reload.cancel();
      stop();
    };
  }, [load]);
  return html`
    <div class="page entity-page">
      <${TopBar}>
        <${LiveBadge} status=${live} />
        <//>
        <main class="page-main">
          <nav class="crumbs"><a href=${`/${query}`}>← All anomalies</a>${data?.types.length > 1
            ? html`
              · ${[null, ...data.types].map((t) =>
                html`
                  <a key=${t ?? "all"} class=${(t ?? undefined) === type
                    ? "on"
                    : ""} href=${typePath(entity, t, list)}>${t ?? "all types"}</a>
                `
              )}
            `
            : null}</nav>
          <${ErrorNote} error=${error} retries />
          ${data
            ? html`
              <${StateCard} data=${data} now=${now} />
              <${SeriesCard} series=${data.series} />
              <${AnomalyLinks} items=${data.anomalies} now=${now} list=${list} />
            `
            : error
            ? null
            : html`<p class="muted pad">Loading…</p>`}
        </main>
        </div>
  `;
}
