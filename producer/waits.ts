/**
 * The run loop's waits: a send that ends early when the run stops (Ctrl-C,
 * `--duration`), so a Kafka that stopped answering never holds the producer
 * past its end, and timers longer than `setTimeout` holds.
 *
 * @module
 */
import { ABORTED, untilAborted } from "@vigil/shared/lifecycle";

/**
 * `send`, or until `stop` aborts while it waits (the sink's backpressure: a
 * batch Kafka does not acknowledge holds every later one). False when it
 * stopped waiting; what was handed to the sink stays pending, for the bounded
 * final flush to send or report (the sink logs its failures).
 */
export async function sendUntil(send: Promise<void>, stop: AbortSignal): Promise<boolean> {
  return (await untilAborted(send, stop)) !== ABORTED;
}

/** The longest delay `setTimeout` holds (2^31 − 1 ms, ~24.8 days); a longer one fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Abort `controller` with `reason` after `ms`, also beyond {@link MAX_TIMER_MS}
 * (`--duration 30d`): the timer is re-armed in steps it can hold.
 *
 * @returns a function that cancels the timer
 */
export function abortAfter(ms: number, controller: AbortController, reason: Error): () => void {
  const end = Date.now() + ms;
  let timer: ReturnType<typeof setTimeout>;
  const arm = (left: number) => {
    timer = setTimeout(() => {
      const rest = end - Date.now();
      if (rest > 0) arm(rest);
      else controller.abort(reason);
    }, Math.min(left, MAX_TIMER_MS));
  };
  arm(ms);
  return () => clearTimeout(timer);
}
