// The System panel of the main view: the detector's rules in force (GET /api/system/rules,
// proxied to the detector at DETECTOR_URL) and the last retention run (GET
// /api/system/retention, recorded by the notifier's retention runner).
import { useEffect, useState } from "preact/hooks";
import { getJson } from "./api.js";
import { fmtFull } from "./time.js";
import { ago, count, fmtSpan, html, useNow } from "./util.js";

const NO_DETECTOR = new Error(
  "the web does not know the detector: set DETECTOR_URL to the detector's address",
);

/**
 * The retention status and the rules in force, reloaded every minute; the rules only when
 * the web knows the detector (DETECTOR_URL), as the notifications panel does for its preview.
 */
function useSystem() {
  const [retention, setRetention] = useState({ data: null, error: null });
  const [rules, setRules] = useState({ data: null, error: null });
  useEffect(() => {
    const loadRules = () =>
      getJson("/api/system/rules").then(
        (d) => setRules({ data: d, error: null }),
        (error) => setRules({ data: null, error }),
      );
    // The rules come from the detector: asked for even when retention (PostgreSQL) cannot be
    // read, which then cannot say whether the web knows the detector (the proxy answers that).
    const load = () =>
      getJson("/api/system/retention").then((data) => {
        setRetention({ data, error: null });
        if (!data.detector_api) return setRules({ data: null, error: NO_DETECTOR });
        loadRules();
      }, (error) => {
        setRetention({ data: null, error });
        loadRules();
      });
    load();
    const t = setInterval(load, 60_000);
    return () => clearInterval(t);
  }, []);
  return { rules, retention };
}

function Rules({ data, error, now }) {
  if (!data) {
    return html`<p class="system-rules muted">Rules: ${error?.message ?? "loading…"}</p>`;
  }
  const v = data.version;
  const rejected = data.last_rejected;
  return html`
    <div class="system-rules" data-version=${v.hash}>
      <h4>Rules in force</h4>
      <p>Version <code title=${v.hash}>${v.hash.slice(0, 12)}</code> from <code>${v
        .source}</code>, loaded <span title=${fmtFull(v.loaded_at)}>${ago(
          v.loaded_at,
          now,
        )}</span>. Entries: ${Object.keys(data.rules).join(", ")}.</p>
      ${rejected
        ? html`
          <p
            class="system-rejected">Last rejected file (${rejected
              .trigger}, <span title=${fmtFull(rejected.at)}>${ago(
                rejected.at,
                now,
              )}</span>; the rules above kept running): ${rejected
              .reason}</p>
        `
        : html`<p class="muted">No rejected file since the detector started.</p>`}
    </div>
  `;
}

function Retention({ data, error, now }) {
  if (!data) {
    return html`<p class="system-retention muted">Retention: ${
      error?.message ??
        "loading…"
    }</p>`;
  }
  const run = data.last_run;
  if (!run) {
    return html`
      <div class="system-retention">
        <h4>Retention</h4>
        <p class="muted">No retention run recorded yet (the notifier runs it).</p>
      </div>
    `;
  }
  const tables = Object.keys({ ...run.ages_ms, ...run.deleted });
  const total = Object.values(run.deleted).reduce((a, n) => a + n, 0);
  const next = data.next_run_at ? Date.parse(data.next_run_at) - now : null;
  // Overdue by more than a minute (the page reloads every minute): the run is long, or no
  // notifier runs retention any more; "due now" for hours would hide that.
  const when = next === null
    ? ""
    : next > 0
    ? `, next in ${fmtSpan(next)}`
    : next > -60_000
    ? ", next due now"
    : `, next was due ${fmtSpan(-next)} ago`;
  // Cut by shutdown: the notifier's next start goes on. Budget spent: a catch-up run follows.
  const unfinished = !run.unfinished.length
    ? ""
    : run.outcome === "interrupted"
    ? ` Unfinished (cut by shutdown; the next run, a minute after the notifier starts, goes on): ${
      run.unfinished.join(", ")
    }.`
    : ` Unfinished (batch budget spent; a catch-up run follows): ${run.unfinished.join(", ")}.`;
  const failed = run.failed?.length
    ? ` Failed: ${run.failed.join(", ")} (left for the next run; the notifier's log says why).`
    : "";
  return html`
    <div class="system-retention" data-outcome=${run.outcome}>
      <h4>Retention</h4>
      <p>Last run <span title=${fmtFull(run.finished_at)}>${ago(
        run.finished_at,
        now,
      )}</span>${` (${run.outcome}), deleted ${
        count(total, "row")
      }${when}.${unfinished}${failed}`}</p>
      <div class="table-scroll">
        <table class="notify-table">
          <thead>
            <tr>
              <th>Table</th>
              <th>kept for</th>
              <th>deleted</th>
            </tr>
          </thead>
          <tbody>${tables.map((t) =>
            html`
              <tr key=${t} data-table=${t}>
                <td>${t}</td>
                <td>${t in run.ages_ms
                  ? run.ages_ms[t] === 0 ? "forever" : fmtSpan(run.ages_ms[t])
                  : "(with its parent)"}</td>
                <td class="n">${run.deleted[t] ?? 0}</td>
              </tr>
            `
          )}</tbody>
        </table>
      </div>
    </div>
  `;
}

/** The panel (closed by default, like the notifications panel). */
export function SystemPanel() {
  const { rules, retention } = useSystem();
  const now = useNow(30_000);
  const version = rules.data?.version.hash.slice(0, 12);
  const run = retention.data?.last_run;
  const rejected = rules.data?.last_rejected
    ? html`${" · "}<b class="failed">a rules file was rejected</b>`
    : null;
  return html`
    <details class="card notify-card system-card" aria-label="System">
      <summary>
        <span class="notify-title">System</span>
        <span class="notify-totals">Rules ${version
          ? html`<code>${version}</code>`
          : "unknown"}${rejected}${" · "}retention ${run
          ? html`ran <span title=${fmtFull(run.finished_at)}>${ago(run.finished_at, now)}</span>`
          : retention.data
          ? "not run yet"
          : "unknown"}</span>
      </summary>
      <div class="notify-body">
        <${Rules} ...${rules} now=${now} />
        <${Retention} ...${retention} now=${now} />
      </div>
    </details>
  `;
}
