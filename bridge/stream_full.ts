/**
 * The bridge waiting for the detector: the append script refuses a call
 * ("FULL …", `bridge_append-2.lua`) when the detector's group has more left
 * to process than MAXLEN would keep, so that nothing is trimmed unread. The
 * batch is retried (its Kafka offsets stay uncommitted, Kafka keeps the
 * messages); this counts, logs (one line per `logEveryMs` while it lasts, not
 * one per retried batch) and reports it on `/health` (`streams`).
 *
 * @module
 */
import { createRepeatFilter, errorMessage, type Logger } from "@vigil/shared/log";
import type { HealthDetail } from "@vigil/shared/http/ops_app";

/** Options of {@link createStreamFull}. */
export interface StreamFullOptions {
  log: Logger;
  /** `vigil_bridge_stream_full_total`. */
  counter: { inc(): void };
  now: () => number;
}

/** Create the tracker of refused appends. */
export function createStreamFull(options: StreamFullOptions) {
  const { log, counter, now } = options;
  /** How long the health check warns after the last refusal. */
  const warnMs = 30_000;
  /** At most one log line per this long; the next says how many refusals it covers. */
  const logEveryMs = 10_000;
  let last: { at: number; detail: string } | undefined;
  const seenRefusal = createRepeatFilter(logEveryMs, now);
  return {
    /** Whether `error` is the script's FULL (then counted and logged), not a Redis failure. */
    seen(error: unknown, fields: Record<string, unknown>): boolean {
      const message = errorMessage(error);
      const at = message.indexOf("FULL ");
      if (at < 0) return false;
      counter.inc();
      last = { at: now(), detail: message.slice(at + 5) };
      const { write, held } = seenRefusal("full");
      if (write) {
        log.warn("stream full, waiting for the detector before appending more", {
          ...fields,
          detail: last.detail,
          refusals: held + 1,
        });
      }
      return true;
    },
    /** `warn` for `warnMs` after the last refusal. */
    health(): true | HealthDetail {
      if (!last || now() - last.at > warnMs) return true;
      return {
        status: "warn",
        message: "the detector is behind: appends wait until it has processed enough " +
          "(BRIDGE_STREAM_MAXLEN), and the Kafka consumer lag grows meanwhile",
        last: last.detail,
        at: new Date(last.at).toISOString(),
      };
    },
  };
}
