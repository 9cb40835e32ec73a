/**
 * Test support: a TCP server that accepts connections and never reads or
 * answers them, as a hung server, a firewall that swallows packets or a wrong
 * port does. The connections stay open until `close()`.
 *
 * @module
 */

/** A running silent server. */
export interface SilentServer {
  readonly port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Stop accepting and close every held connection. */
  close(): Promise<void>;
}

/** Start a silent server on a free port of 127.0.0.1. */
export function startSilentServer(): SilentServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })().catch(() => {});
  return {
    port: listener.addr.port,
    get connections() {
      return held.length;
    },
    async close() {
      listener.close();
      await accepting;
      for (const conn of held) conn.close();
    },
  };
}
