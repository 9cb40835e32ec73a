/**
 * A lean RESP2 connection for the detector's hot read (XREADGROUP of
 * thousands of stream entries per call). ioredis decodes every field of
 * every entry through a Buffer (one native call per string under Deno's
 * Node compatibility), which was the largest cost per event left. This
 * reader decodes a whole reply with one `TextDecoder` call and, when the
 * reply is ASCII (the bridge's JSON usually is), cuts every string out of
 * that text; otherwise it decodes string by string.
 *
 * Commands are pipelined in order on one TCP connection, which is opened on
 * first use (with AUTH / SELECT from the ioredis options) and reopened after
 * an error; an error rejects every command in flight, and the caller retries.
 *
 * @module
 */

/** A reply: string, integer, null, error or array of replies. */
export type Reply = string | number | null | Error | Reply[];

/** Connection options (those of the ioredis client it sits next to). */
export interface RespOptions {
  host: string;
  port: number;
  username?: string | undefined;
  password?: string | undefined;
  db?: number | undefined;
}

const CR = 13;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The RESP encoding of a command. */
export function encodeCommand(args: readonly (string | number)[]): Uint8Array {
  let out = `*${args.length}\r\n`;
  for (const a of args) {
    const s = String(a);
    out += `$${encoder.encode(s).length}\r\n${s}\r\n`;
  }
  return encoder.encode(out);
}

/** Sentinel: the reply is not complete in the buffer yet. */
const INCOMPLETE = Symbol("incomplete");

/**
 * Parse one reply from `buf[start, end)`: the reply and the offset after it,
 * or INCOMPLETE. `text` is `buf[start, end)` decoded when it is pure ASCII
 * (so byte offsets are string offsets), else null.
 */
function parseReply(
  buf: Uint8Array,
  pos: number,
  end: number,
  base: number,
  text: string | null,
): [Reply, number] | typeof INCOMPLETE {
  if (pos >= end) return INCOMPLETE;
  const type = buf[pos]!;
  let eol = pos + 1;
  while (eol < end && buf[eol] !== CR) eol++;
  if (eol + 1 >= end) return INCOMPLETE;
  const line = () =>
    text !== null
      ? text.slice(pos + 1 - base, eol - base)
      : decoder.decode(buf.subarray(pos + 1, eol));
  const next = eol + 2;
  switch (type) {
    case 43: // +
      return [line(), next];
    case 45: // -
      return [new Error(line()), next];
    case 58: // :
      return [Number(line()), next];
    case 36: { // $
      const n = Number(line());
      if (n < 0) return [null, next];
      if (next + n + 2 > end) return INCOMPLETE;
      const s = text !== null
        ? text.slice(next - base, next + n - base)
        : decoder.decode(buf.subarray(next, next + n));
      return [s, next + n + 2];
    }
    case 42: { // *
      const n = Number(line());
      if (n < 0) return [null, next];
      const items: Reply[] = new Array(n);
      let p = next;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, p, end, base, text);
        if (r === INCOMPLETE) return INCOMPLETE;
        items[i] = r[0];
        p = r[1];
      }
      return [items, p];
    }
    default:
      throw new Error(`Cannot parse Redis reply: unexpected type byte ${type}`);
  }
}

/** The offset just after the reply starting at `pos`, or -1 when incomplete (nothing decoded). */
function skipReply(buf: Uint8Array, pos: number, end: number): number {
  if (pos >= end) return -1;
  const type = buf[pos]!;
  let eol = pos + 1;
  let n = 0, negative = false;
  if (buf[eol] === 45) {
    negative = true;
    eol++;
  }
  while (eol < end && buf[eol] !== CR) {
    n = n * 10 + (buf[eol]! - 48);
    eol++;
  }
  if (eol + 1 >= end) return -1;
  const next = eol + 2;
  if (type === 36) return negative ? next : next + n + 2 <= end ? next + n + 2 : -1;
  if (type === 42) {
    if (negative) return next;
    let p = next;
    for (let i = 0; i < n; i++) {
      p = skipReply(buf, p, end);
      if (p < 0) return -1;
    }
    return p;
  }
  return next; // + - : (one line)
}

/** Is `buf[start, end)` pure ASCII? */
function isAscii(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i]! > 127) return false;
  return true;
}

/** A pipelined RESP2 connection. */
export interface RespConnection {
  /** Send a command; resolves with its reply (an error reply rejects). */
  command(args: readonly (string | number)[]): Promise<Reply>;
  close(): void;
}

/** Create a connection (opened on first command). */
export function createRespConnection(options: RespOptions): RespConnection {
  let conn: Deno.TcpConn | null = null;
  let opening: Promise<Deno.TcpConn> | null = null;
  let closed = false;
  const waiting: { resolve(r: Reply): void; reject(e: Error): void }[] = [];
  let buf = new Uint8Array(1 << 16);
  let len = 0;
  let writing: Promise<void> = Promise.resolve();

  function fail(error: Error): void {
    const c = conn;
    conn = null;
    opening = null;
    len = 0;
    try {
      c?.close();
    } catch {
      // already closed
    }
    for (const w of waiting.splice(0)) w.reject(error);
  }

  async function readLoop(c: Deno.TcpConn): Promise<void> {
    try {
      for (;;) {
        if (len === buf.length) {
          const bigger = new Uint8Array(buf.length * 2);
          bigger.set(buf.subarray(0, len));
          buf = bigger;
        }
        const n = await c.read(buf.subarray(len));
        if (n === null) throw new Error("Redis closed the connection");
        len += n;
        let pos = 0;
        while (pos < len && waiting.length > 0) {
          // Find the reply's end without decoding, then decode it once.
          const end = skipReply(buf, pos, len);
          if (end < 0) break;
          const text = isAscii(buf, pos, end) ? decoder.decode(buf.subarray(pos, end)) : null;
          const reply = (parseReply(buf, pos, end, pos, text) as [Reply, number])[0];
          pos = end;
          const w = waiting.shift()!;
          if (reply instanceof Error) w.reject(reply);
          else w.resolve(reply);
        }
        if (pos > 0) {
          buf.copyWithin(0, pos, len);
          len -= pos;
        }
      }
    } catch (error) {
      if (conn === c) fail(error instanceof Error ? error : new Error(String(error)));
    }
  }

  async function open(): Promise<Deno.TcpConn> {
    const c = await Deno.connect({ hostname: options.host, port: options.port });
    const hello: (string | number)[][] = [];
    if (options.password) {
      hello.push(
        options.username ? ["AUTH", options.username, options.password] : [
          "AUTH",
          options.password,
        ],
      );
    }
    if (options.db) hello.push(["SELECT", options.db]);
    conn = c;
    readLoop(c);
    for (const args of hello) await send(c, args);
    return c;
  }

  function send(c: Deno.TcpConn, args: readonly (string | number)[]): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      waiting.push({ resolve, reject });
      const bytes = encodeCommand(args);
      // Writes are chained so that two commands never interleave on the wire.
      writing = writing.then(async () => {
        let off = 0;
        while (off < bytes.length) off += await c.write(bytes.subarray(off));
      }).catch((error) => {
        if (conn === c) fail(error instanceof Error ? error : new Error(String(error)));
      });
    });
  }

  return {
    async command(args) {
      if (closed) throw new Error("Cannot send a Redis command: connection closed");
      let c = conn;
      if (c === null) {
        opening ??= open();
        c = await opening;
      }
      return await send(c, args);
    },
    close() {
      closed = true;
      fail(new Error("Connection closed"));
    },
  };
}
