/**
 * Free TCP ports on 127.0.0.1 for tests and tools.
 *
 * @module
 */

/** A free TCP port on 127.0.0.1 chosen by the OS, for a listener started at once. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A free port from `from` to `from + count - 1`, chosen at random. */
function freePortIn(from: number, count: number): number {
  for (;;) {
    const port = from + Math.floor(Math.random() * count);
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch { /* taken, try another */ }
  }
}

/**
 * A free port below the kernel's ephemeral range (32768+), for a service
 * that binds it seconds later: no outgoing connection or `port: 0` listener
 * of a test running in parallel can take it meanwhile.
 */
export function stablePort(): number {
  return freePortIn(20_000, 12_000);
}

/**
 * A port nothing listens on, for a test of "cannot connect": between
 * {@link stablePort}'s range and the kernel's ephemeral range (32768+, where
 * `port: 0` listeners and outgoing connections take theirs), so no test
 * running in parallel binds it meanwhile ({@link freePort}'s could be).
 */
export function closedPort(): number {
  return freePortIn(32_000, 768);
}
