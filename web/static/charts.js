// Hand-drawn SVG charts: per-minute stacked bars and sparklines.
import { h } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";
import { fmtClock, zoneName } from "./time.js";

const html = htm.bind(h);

export const TYPES = ["logs", "metrics", "transactions"];

function niceMax(n) {
  if (n <= 5) return 5;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= n) return m * p;
  return 10 * p;
}

const hhmm = fmtClock;

/**
 * Stacked bars: one bar per minute from `fromMs` for `minutes` minutes,
 * stacked by type. `counts` maps minute start (ms) → {logs, metrics, transactions}.
 */
export function StackedBars({ counts, fromMs, minutes }) {
  // Drawn in CSS pixels of the actual width, so labels stay readable on phones.
  const box = useRef(null);
  const [size, setSize] = useState({ w: 720, h: 150 });
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => {
      const svg = el.querySelector("svg");
      if (svg) setSize({ w: Math.max(200, svg.clientWidth), h: Math.max(80, svg.clientHeight) });
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const W = size.w, H = size.h, left = 30, bottom = 20, top = 8;
  const plotW = W - left - 4, plotH = H - bottom - top;
  const bars = [];
  let max = 0;
  for (let i = 0; i < minutes; i++) {
    const t = fromMs + i * 60_000;
    const c = counts.get(t) ?? {};
    const total = TYPES.reduce((s, ty) => s + (c[ty] ?? 0), 0);
    max = Math.max(max, total);
    bars.push({ t, c, total });
  }
  const yMax = niceMax(max);
  const bw = plotW / minutes;
  const y = (v) => top + plotH - (v / yMax) * plotH;
  const ticks = [];
  const every = W < 480 ? 30 : 15;
  for (let i = 0; i <= minutes; i += every) ticks.push(i);
  return html`
    <div class="chart-box" ref=${box}>
      <svg class="chart" viewBox="0 0 ${W} ${H}" role="img"
        aria-label="Anomalies per minute by type, last hour">
          <line class="axis" x1=${left} y1=${y(0)} x2=${W - 4} y2=${y(0)} />
          <line class="grid" x1=${left} y1=${y(yMax / 2)} x2=${W - 4} y2=${y(yMax / 2)} />
          <line class="grid" x1=${left} y1=${y(yMax)} x2=${W - 4} y2=${y(yMax)} />
          <text class="tick" x=${left - 4} y=${y(yMax) + 4} text-anchor="end">${yMax}</text>
          <text class="tick" x=${left - 4} y=${y(yMax / 2) + 4} text-anchor="end">${yMax / 2}</text>
          <text class="tick" x=${left - 4} y=${y(0) + 4} text-anchor="end">0</text>
          ${bars.map((b, i) => {
            let acc = 0;
            return html`<g key=${b.t}>
          <title>${hhmm(b.t)} · ${b.total} (${
              TYPES.map((t) => `${t} ${b.c[t] ?? 0}`).join(", ")
            })</title>
          <rect class="hit" x=${left + i * bw} y=${top} width=${bw} height=${plotH} />
          ${
              TYPES.map((ty) => {
                const v = b.c[ty] ?? 0;
                if (!v) return null;
                const y1 = y(acc + v), y0 = y(acc);
                acc += v;
                return html`
                  <rect class=${`bar t-${ty}`} x=${left + i * bw + 0.5} y=${y1}
                    width=${Math.max(bw - 1, 1)} height=${Math.max(y0 - y1, 0.5)} />
                `;
              })
            }
        </g>`;
          })}
          ${ticks.map((i) =>
            html`
              <text class="tick" x=${left + i * bw} y=${H - 5}
                text-anchor=${i === 0 ? "start" : i === minutes ? "end" : "middle"}>${hhmm(
                  fromMs + i * 60_000,
                )}</text>
            `
          )}
      </svg>
    </div>
  `;
}

/**
 * Why an entity has no series (the detail and the entity page): a log's or a user's anomaly has
 * none at all, and "the cache keeps recent points only" misled about a fresh one.
 */
export const NO_SERIES = "No series is cached for this entity: the detector keeps about an hour " +
  "of recent scores, for metrics (per service and measure) and transaction statuses (per " +
  "minute) only.";

/**
 * A sparkline of `points` ([{ts, value, score, low?, high?}]) with an optional
 * threshold line, an optional expected band ({low, high}), the band the engine
 * expected at each point (when the points carry `low`/`high`) and a marker at
 * `markTs`. The caption gives the time span in the chosen zone.
 */
export function Sparkline({ points, threshold, band, markTs, label }) {
  const W = 320, H = 64, pad = 4;
  if (!points.length) return null;
  const xs = points.map((p) => p.ts), vs = points.map((p) => p.value);
  const banded = points.filter((p) => typeof p.low === "number" && typeof p.high === "number");
  for (const p of banded) vs.push(p.low, p.high);
  let minX = Math.min(...xs), maxX = Math.max(...xs);
  if (markTs !== undefined) {
    minX = Math.min(minX, markTs);
    maxX = Math.max(maxX, markTs);
  }
  let minY = Math.min(...vs), maxY = Math.max(...vs);
  if (typeof threshold === "number") {
    minY = Math.min(minY, threshold);
    maxY = Math.max(maxY, threshold);
  }
  if (band) {
    minY = Math.min(minY, band.low);
    maxY = Math.max(maxY, band.high);
  }
  // One time or one value: centred, not in a corner.
  if (maxX === minX) [minX, maxX] = [minX - 1, maxX + 1];
  if (maxY === minY) [minY, maxY] = [minY - 1, maxY + 1];
  const x = (v) => pad + ((v - minX) / (maxX - minX)) * (W - 2 * pad);
  const y = (v) => H - pad - ((v - minY) / (maxY - minY)) * (H - 2 * pad);
  const d = points.map((p, i) => `${i ? "L" : "M"}${x(p.ts).toFixed(1)},${y(p.value).toFixed(1)}`)
    .join("");
  const at = (p, v) => `${x(p.ts).toFixed(1)},${y(v).toFixed(1)}`;
  const bandPath = banded.length > 1
    ? `M${banded.map((p) => at(p, p.high)).join("L")}L${
      banded.slice().reverse().map((p) => at(p, p.low)).join("L")
    }Z`
    : null;
  const values = points.map((p) => p.value);
  const last = points[points.length - 1];
  return html`
    <figure class="spark">
      <svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img"
        aria-label=${`Series ${label}`}>
        ${band
          ? html`
            <rect class="band" x=${pad} width=${W - 2 * pad} y=${y(band.high)}
              height=${Math.max(y(band.low) - y(band.high), 1)} />
          `
          : null}
        ${bandPath ? html`<path class="band-series" d=${bandPath} />` : null}
        ${typeof threshold === "number"
          ? html`<line class="threshold" x1=${pad} x2=${W - pad} y1=${y(threshold)} y2=${
            y(threshold)
          } />`
          : null}
        ${markTs !== undefined
          ? html`<line class="mark" x1=${x(markTs)} x2=${x(markTs)} y1=${pad} y2=${H - pad} />`
          : null}
        <path class="line" d=${d} />
        ${points.length === 1
          ? html`<circle class="dot" cx=${x(last.ts)} cy=${y(last.value)} r="2.5" />`
          : null}
        ${points.filter((p) => typeof p.score === "number" && Math.abs(p.score) >= 3).map((p) =>
          html`<circle class="hot" cx=${x(p.ts)} cy=${y(p.value)} r="2.5" />`
        )}
      </svg>
      <figcaption>
        <span>${label}</span>
        <span class="muted"> · ${count(points.length, "point")}, ${fmtClock(
          points[0].ts,
        )}–${fmtClock(
          last.ts,
        )} ${zoneName(last.ts)} · last ${fmtNum(last.value)} · range ${fmtNum(
          Math.min(...values),
        )}–${fmtNum(Math.max(...values))}</span>
        ${typeof threshold === "number"
          ? html`<span class="muted"> · threshold ${fmtNum(threshold)}</span>`
          : null}
        ${band
          ? html`<span class="muted"> · expected ${fmtNum(band.low)}–${fmtNum(band.high)}</span>`
          : null}
        ${banded.length
          ? html`<span class="muted band-note"> · shaded: the band the engine expected</span>`
          : null}
      </figcaption>
    </figure>
  `;
}

/** "1 digest", "2 digests", "1,042 rows": a count and its noun, singular for one. */
export function count(n, noun, plural = `${noun}s`) {
  return `${fmtNum(n)} ${n === 1 ? noun : plural}`;
}

/**
 * Format a number compactly, alike in every browser language (`1,234`, `1.234`): in German
 * the browser's own format made 1234 read `1.234`, in Arabic some digits Arabic-Indic.
 */
export function fmtNum(v) {
  if (typeof v !== "number" || !Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1000 || Number.isInteger(v)) return v.toLocaleString("en-US");
  // Trailing zeros of the digits only: 1.128e-10 keeps its exponent's 0.
  const [digits, exponent] = v.toPrecision(4).split("e");
  const trimmed = digits.includes(".") ? digits.replace(/\.?0+$/, "") : digits;
  return exponent ? `${trimmed}e${exponent}` : trimmed;
}
