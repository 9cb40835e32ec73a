/**
 * Test helper: wait for a condition (no dependencies, for unit and integration tests alike).
 *
 * @module
 */

/** Poll `check` every `intervalMs` until it returns true or `timeoutMs` passes. */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  { timeoutMs = 30_000, intervalMs = 100, what = "condition" } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Run `worker.run(signal)` while `fn` runs; then abort it and wait until it has stopped. */
export async function withRunning<T>(
  worker: { run(signal: AbortSignal): Promise<unknown> },
  fn: () => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const running = worker.run(controller.signal);
  try {
    return await fn();
  } finally {
    controller.abort();
    await running;
  }
}
