/**
 * A tiny TCP proxy for fault injection: `cut()` closes every open connection
 * and refuses new ones (accepted then closed at once) until `restore()`.
 *
 * @module
 */

/** A running proxy. */
export interface TcpProxy {
  readonly port: number;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/** Proxy 127.0.0.1:<random> to `target`. */
export function startTcpProxy(target: { hostname: string; port: number }): TcpProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  let down = false;
  /** Cuts so far: a connection whose upstream was still connecting during one is cut too. */
  let cuts = 0;
  const tasks = new Set<Promise<void>>();

  function closeQuietly(c: Deno.Conn): void {
    try {
      c.close();
    } catch {
      // already closed
    }
    open.delete(c);
  }

  async function pipe(from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null) break;
        let off = 0;
        while (off < n) off += await to.write(buf.subarray(off, n));
      }
    } catch {
      // connection cut
    } finally {
      closeQuietly(from);
      closeQuietly(to);
    }
  }

  async function serve(client: Deno.Conn): Promise<void> {
    if (down) return closeQuietly(client);
    const cutsBefore = cuts;
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect(target);
    } catch {
      return closeQuietly(client);
    }
    if (down || cuts !== cutsBefore) {
      closeQuietly(upstream);
      return closeQuietly(client);
    }
    open.add(client);
    open.add(upstream);
    await Promise.all([pipe(client, upstream), pipe(upstream, client)]);
  }

  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        const t = serve(conn);
        tasks.add(t);
        t.finally(() => tasks.delete(t));
      }
    } catch {
      // listener closed
    }
  })();

  return {
    port: (listener.addr as Deno.NetAddr).port,
    cut() {
      down = true;
      cuts++;
      for (const c of [...open]) closeQuietly(c);
    },
    restore() {
      down = false;
    },
    async close() {
      down = true;
      cuts++;
      listener.close();
      for (const c of [...open]) closeQuietly(c);
      await accepting;
      await Promise.allSettled([...tasks]);
    },
  };
}

/**
 * A proxy in front of the server of `url` (a `postgres://` or `redis://`
 * URL), and the same URL pointing at the proxy.
 */
export function startUrlProxy(url: string): TcpProxy & { url: string } {
  const target = new URL(url);
  const defaultPort = target.protocol.startsWith("redis") ? 6379 : 5432;
  const proxy = startTcpProxy({
    hostname: target.hostname,
    port: Number(target.port || defaultPort),
  });
  const proxied = new URL(url);
  proxied.host = `127.0.0.1:${proxy.port}`;
  return Object.assign(proxy, { url: proxied.href });
}
