// The notifications panel of the main view: what the notifier sent or planned in the last
// hour, per route and channel, from GET /api/notifications/summary (the notifier's own tables).
import { useEffect, useState } from "preact/hooks";
import { getJson } from "./api.js";
import { TestNotification } from "./test_notify.js";
import { fmtClock, zoneName } from "./time.js";
import { count, html } from "./util.js";

const COLUMNS = [
  ["planned", "planned", "Notifications planned in the hour (one digest on one channel)"],
  ["sent", "sent", "Accepted by the channel in the hour"],
  ["pending", "pending", "Still waiting to be sent (any age)"],
  ["failed", "failed", "Planned in the hour and given up"],
];

function Counts({ c }) {
  return COLUMNS.map(([k]) => html`<td key=${k} class=${`n ${k}`}>${c[k]}</td>`);
}

/** The panel; reloads every minute. */
export function NotifyPanel() {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [preview, setPreview] = useState(null);
  useEffect(() => {
    const load = () => {
      getJson("/api/notifications/summary", { window: "1h" }).then((d) => {
        setData(d);
        setError(null);
        // The preview needs the notifier (NOTIFIER_URL); left out when it cannot answer.
        if (!d.notifier_api) return setPreview(null);
        getJson("/api/notifications/preview", { window: "1h" }).then(
          setPreview,
          () => setPreview(null),
        );
      }, setError);
    };
    load();
    const t = setInterval(load, 60_000);
    return () => clearInterval(t);
  }, []);
  if (!data) {
    return error
      ? html`<p class="card notify-card muted pad">Notifications: ${error.message}</p>`
      : null;
  }
  const t = data.totals;
  const from = Date.parse(data.from), to = Date.parse(data.to);
  // Alerts kept out of digests on purpose (inhibited by a CRITICAL, routes without channel).
  const d = data.intake.by_disposition;
  const quiet = [
    d.inhibited ? `${d.inhibited} inhibited` : "",
    d.recorded ? `${d.recorded} recorded only` : "",
  ].filter(Boolean).map((x) => ` · ${x}`).join("");
  const intake = Object.entries(data.intake.by_disposition).map(([k, n]) => `${n} ${k}`)
    .join(", ");
  return html`
    <details class="card notify-card" aria-label="Notifications in the last hour">
      <summary>
        <span class="notify-title">Notifications, last hour</span>
        <span
          class="notify-totals"><b class="sent">${t.sent}</b> sent · <b class="pending">${t
            .pending}</b>${" "}pending · <b class="failed">${t.failed}</b> failed · ${count(
              t.digests,
              "digest",
            )}${t.waiting_alerts
            ? ` · ${count(t.waiting_alerts, "alert")} waiting for their group's digest`
            : ""}${quiet}</span>
      </summary>
      <div class="notify-body">
          <p class="muted">${fmtClock(from)}–${fmtClock(to)} ${zoneName(
            to,
          )}, from the notifier's tables. Alerts taken in: ${data.intake.alerts}${intake
            ? ` (${intake})`
            : ""}.</p>
          ${preview
            ? html`<p class="notify-preview" data-notifications=${preview.notifications}>With the
                routes in force, the hour's ${count(preview.alerts, "alert")} make <b>${
              count(
                preview.notifications,
                "notification",
              )
            }</b> (${count(preview.digests, "digest")})${
              preview.truncated ? " (newest alerts only)" : ""
            }: replayed by the notifier.</p>`
            : null}
          ${data.routes.length
            ? html`
              <div class="table-scroll">
                <table class="notify-table">
                  <thead>
                    <tr><th>Route</th><th>Channel</th>${COLUMNS.map(([k, label, title]) =>
                      html`<th key=${k} title=${title}>${label}</th>`
                    )}</tr>
                  </thead>
                  <tbody>${data.routes.flatMap((r) => [
                    ...r.channels.map((c, i) =>
                      html`
                        <tr key=${r.route + c.channel} data-route=${r.route} data-channel=${c
                          .channel}>
                          <td>${i === 0
                            ? html`<b>${r.route}</b> <span class="muted">${
                              count(r.digests, "digest")
                            }${r.waiting_alerts ? `, ${r.waiting_alerts} waiting` : ""}</span>`
                            : null}</td>
                          <td>${c.channel}</td>
                          <${Counts} c=${c} />
                        </tr>
                      `
                    ),
                    r.channels.length ? null : html`
                      <tr key=${r.route} data-route=${r.route}>
                        <td><b>${r.route}</b> <span class="muted">${r
                          .waiting_alerts} waiting</span></td>
                        <td class="muted" colspan=${COLUMNS.length + 1}>no digest yet</td>
                      </tr>
                    `,
                  ])}</tbody>
                </table>
              </div>
            `
            : html`<p class="muted">Nothing sent or planned in the last hour.</p>`}
          <${TestNotification} />
        </div>
    </details>
  `;
}
