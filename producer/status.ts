/**
 * Progress output: on a terminal, one line redrawn in place (`\r`) with
 * events sent, rate, errors and per-topic counts; otherwise a JSON log line
 * every few seconds.
 *
 * @module
 */
import type { Logger } from "@vigil/shared/log";
import type { SinkStats } from "./kafka_sink.ts";

/** Where the live line goes. */
export interface StatusOutput {
  /** Is the output a terminal (`Deno.stdout.isTerminal()`)? */
  isTerminal: boolean;
  write(text: string): void;
}

/** What the reporter shows. */
export interface StatusSnapshot extends Pick<SinkStats, "sent" | "errors" | "byTopic" | "pending"> {
  scenarios: number;
}

const n = (x: number) => x.toLocaleString("en-US");

/** The live line (without `\r`): `sent 12,345 | 200/s | errors 0 | logs … | scenarios 3`. */
export function formatStatusLine(s: StatusSnapshot, ratePerSec: number): string {
  return `sent ${n(s.sent)} | ${n(Math.round(ratePerSec))}/s | errors ${n(s.errors)} | ` +
    `logs ${n(s.byTopic.logs)} metrics ${n(s.byTopic.metrics)} transactions ${
      n(s.byTopic.transactions)
    } | pending ${n(s.pending)} | scenarios ${n(s.scenarios)}`;
}

/** Options for {@link createStatusReporter}. */
export interface StatusReporterOptions {
  output: StatusOutput;
  log: Logger;
  now: () => number;
}

/** Decides when to draw; `update` is cheap to call on every loop turn. */
export interface StatusReporter {
  update(s: StatusSnapshot): void;
  /** Final line (and newline on a terminal). */
  finish(s: StatusSnapshot): void;
}

/** Create a progress reporter. */
export function createStatusReporter(options: StatusReporterOptions): StatusReporter {
  const { output, log, now } = options;
  // A redraw every 250 ms on a terminal, else a JSON log line every 5 s.
  const interval = output.isTerminal ? 250 : 5000;
  const started = now();
  let lastAt = started;
  let lastSent = 0;
  let rate = 0;

  const draw = (s: StatusSnapshot, t: number, final: boolean) => {
    const dt = (t - lastAt) / 1000;
    if (dt > 0) rate = (s.sent - lastSent) / dt;
    if (final) rate = t > started ? (s.sent * 1000) / (t - started) : 0;
    lastAt = t;
    lastSent = s.sent;
    if (output.isTerminal) {
      output.write(`\r\x1b[2K${formatStatusLine(s, rate)}${final ? "\n" : ""}`);
    } else {
      log.info(final ? "finished" : "progress", {
        sent: s.sent,
        rate_per_s: Math.round(rate),
        errors: s.errors,
        pending: s.pending,
        scenarios: s.scenarios,
        by_topic: s.byTopic,
      });
    }
  };

  return {
    update(s) {
      const t = now();
      if (t - lastAt >= interval) draw(s, t, false);
    },
    finish(s) {
      draw(s, now(), true);
    },
  };
}
