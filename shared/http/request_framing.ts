/**
 * HTTP/1.x request framing on the client-to-server byte stream of one
 * connection: where each request head ends and how long its body is
 * (`Content-Length` or chunked), so that the head guard in `serve.ts` can hold
 * every request head of a keep-alive connection to a deadline and a size
 * limit. Pure: bytes in, steps out; no I/O, no clock.
 *
 * It reads only what framing needs (request line, `Content-Length`,
 * `Transfer-Encoding`, chunk sizes, trailers) and refuses what would make its
 * view and the real server's differ: both `Content-Length` and
 * `Transfer-Encoding`, differing lengths, a transfer coding that does not end
 * in `chunked`, obsolete line folding, HTTP versions other than 1.0 and 1.1
 * (HTTP/2 prior knowledge included).
 *
 * @module
 */
import { BAD_HOST, latin1, validHost, validTarget } from "./request_target.ts";

/** How the body of a request is delimited. */
export type BodyFraming =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked" };

/** A complete request head. */
export interface RequestHead {
  method: string;
  target: string;
  version: "HTTP/1.0" | "HTTP/1.1";
  body: BodyFraming;
  /** The head's bytes as received (leading empty lines included), to forward. */
  raw: Uint8Array;
}

/** Status of a refused request. */
export type FramingErrorStatus = 400 | 414 | 431 | 505;

/**
 * One step of {@link RequestFramer.feed}: the first `consumed` bytes of the
 * input were part of a head, part of a body, or bad.
 */
export type FrameStep =
  | { kind: "head"; consumed: number; complete: false }
  | { kind: "head"; consumed: number; complete: true; head: RequestHead }
  | { kind: "body"; consumed: number; complete: boolean }
  | { kind: "error"; consumed: number; status: FramingErrorStatus; message: string };

/** Options of {@link RequestFramer}. */
export interface RequestFramerOptions {
  /** Largest request head (request line + headers) and largest trailer section. @default {32768} */
  maxHeaderBytes?: number;
}

export const LF = 0x0a;
export const CR = 0x0d;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// The target is checked by validTarget(): `\S` stopped at U+00A0, the byte A0 of UTF-8 `à`.
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^ \t]+) HTTP\/(\d)\.(\d)$/;
const CHUNK_SIZE = /^([0-9A-Fa-f]+)[ \t]*(?:;.*)?$/;
/** Longest chunk-size line (with extensions). */
const MAX_CHUNK_LINE_BYTES = 4096;
/** Deno's HTTP server answers a bare 400 to more header fields than this. */
const MAX_HEADER_FIELDS = 128;
/** A control character (a bare CR included) in a header line: only HTAB is allowed there. */
// deno-lint-ignore no-control-regex
const HEADER_CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

type State =
  | "head"
  | "length"
  | "chunk_size"
  | "chunk_data"
  | "chunk_data_end"
  | "trailers";

/**
 * Incremental request framer for one connection. Feed it the bytes the
 * client sent, in order; each {@link feed} consumes bytes of one kind only
 * (the rest of a head, or of a body) and stops at the boundary, so the caller
 * can treat heads and bodies differently.
 *
 * @example
 * ```ts
 * const framer = new RequestFramer();
 * let rest = chunk;
 * while (rest.length > 0) {
 *   const step = framer.feed(rest);
 *   rest = rest.subarray(step.consumed);
 * }
 * ```
 */
export class RequestFramer {
  readonly #maxHeaderBytes: number;
  #state: State = "head";
  // Head (and trailer) scanning.
  #head = new Uint8Array(1024);
  #headLength = 0;
  #lineLength = 0; // bytes of the current line, CR excluded
  #sawRequestLine = false;
  // Bodies.
  #remaining = 0;
  #line: number[] = [];
  #failed = false;

  /** @throws {RangeError} when `maxHeaderBytes` is not a positive integer */
  constructor(options: RequestFramerOptions = {}) {
    const max = this.#maxHeaderBytes = options.maxHeaderBytes ?? 32 * 1024;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(
        `Cannot create request framer: 'maxHeaderBytes' must be a positive integer: current value is ${max}`,
      );
    }
  }

  /** Waiting for (or reading) a request head. */
  get inHead(): boolean {
    return this.#state === "head";
  }

  /** Between requests: in a head with no byte of it received yet. */
  get atBoundary(): boolean {
    return this.#state === "head" && this.#headLength === 0;
  }

  /** Bytes of the current head received so far (0 outside a head). */
  get headBytes(): number {
    return this.#state === "head" ? this.#headLength : 0;
  }

  /**
   * Consume a prefix of `input` (at least one byte when `input` is not empty).
   * After an error step the framer is unusable (the connection must close).
   *
   * @throws {TypeError} when called again after an error step
   */
  feed(input: Uint8Array): FrameStep {
    if (this.#failed) throw new TypeError("Cannot feed request framer: it already failed");
    const step = this.#step(input);
    if (step.kind === "error") this.#failed = true;
    return step;
  }

  #step(input: Uint8Array): FrameStep {
    switch (this.#state) {
      case "head":
        return this.#feedHead(input);
      case "length": {
        const n = Math.min(this.#remaining, input.length);
        this.#remaining -= n;
        if (this.#remaining === 0) this.#state = "head";
        return { kind: "body", consumed: n, complete: this.#remaining === 0 };
      }
      default:
        return this.#feedChunked(input);
    }
  }

  #feedHead(input: Uint8Array): FrameStep {
    const max = this.#maxHeaderBytes;
    let i = 0;
    for (; i < input.length; i++) {
      const b = input[i]!;
      if (this.#headLength + i + 1 > max) {
        this.#append(input.subarray(0, i));
        return this.#sawRequestLine
          ? this.#error(i + 1, 431, `request head larger than ${max} bytes`)
          : this.#error(i + 1, 414, `request line longer than ${max} bytes`);
      }
      if (b === LF) {
        if (this.#lineLength === 0) {
          if (!this.#sawRequestLine) continue; // empty lines before a request line are ignored
          this.#append(input.subarray(0, i + 1));
          return this.#completeHead(i + 1);
        }
        this.#sawRequestLine = true;
        this.#lineLength = 0;
      } else if (b !== CR) {
        this.#lineLength++;
      }
    }
    this.#append(input);
    return { kind: "head", consumed: input.length, complete: false };
  }

  #append(bytes: Uint8Array): void {
    const need = this.#headLength + bytes.length;
    if (need > this.#head.length) {
      const grown = new Uint8Array(Math.max(need, this.#head.length * 2));
      grown.set(this.#head.subarray(0, this.#headLength));
      this.#head = grown;
    }
    this.#head.set(bytes, this.#headLength);
    this.#headLength = need;
  }

  #completeHead(consumed: number): FrameStep {
    const raw = this.#head.slice(0, this.#headLength);
    this.#headLength = 0;
    this.#lineLength = 0;
    this.#sawRequestLine = false;
    const parsed = parseHead(raw);
    if ("status" in parsed) return this.#error(consumed, parsed.status, parsed.message);
    const head: RequestHead = { ...parsed, raw };
    this.expectBody(head.body);
    return { kind: "head", consumed, complete: true, head };
  }

  /** Frame a body next, as after a head that announced it (also used for responses). */
  expectBody(body: BodyFraming): void {
    if (body.kind === "length") {
      this.#state = "length";
      this.#remaining = body.length;
    } else if (body.kind === "chunked") {
      this.#state = "chunk_size";
      this.#line = [];
    }
  }

  #feedChunked(input: Uint8Array): FrameStep {
    let i = 0;
    while (i < input.length) {
      switch (this.#state) {
        case "chunk_size": {
          const b = input[i++]!;
          if (b !== LF) {
            if (this.#line.length >= MAX_CHUNK_LINE_BYTES) {
              return this.#error(i, 400, "chunk size line too long");
            }
            this.#line.push(b);
            break;
          }
          const line = String.fromCharCode(...this.#line).replace(/\r$/, "");
          this.#line = [];
          const m = CHUNK_SIZE.exec(line);
          const size = m ? parseInt(m[1]!, 16) : NaN;
          if (!m || m[1]!.length > 13 || !Number.isSafeInteger(size)) {
            return this.#error(i, 400, "bad chunk size");
          }
          if (size === 0) {
            this.#state = "trailers";
            this.#headLength = 0;
            this.#lineLength = 0;
          } else {
            this.#state = "chunk_data";
            this.#remaining = size;
          }
          break;
        }
        case "chunk_data": {
          const n = Math.min(this.#remaining, input.length - i);
          this.#remaining -= n;
          i += n;
          if (this.#remaining === 0) {
            this.#state = "chunk_data_end";
            this.#line = [];
          }
          break;
        }
        case "chunk_data_end": {
          const b = input[i++]!;
          if (b === CR && this.#line.length === 0) {
            this.#line.push(b);
          } else if (b === LF) {
            this.#state = "chunk_size";
            this.#line = [];
          } else {
            return this.#error(i, 400, "chunk data not followed by CRLF");
          }
          break;
        }
        case "trailers": {
          const b = input[i++]!;
          if (++this.#headLength > this.#maxHeaderBytes) {
            return this.#error(i, 431, `trailer section larger than ${this.#maxHeaderBytes} bytes`);
          }
          if (b === LF) {
            if (this.#lineLength === 0) {
              this.#state = "head";
              this.#headLength = 0;
              return { kind: "body", consumed: i, complete: true };
            }
            this.#lineLength = 0;
          } else if (b !== CR) {
            this.#lineLength++;
          }
          break;
        }
        default:
          throw new TypeError(`Cannot frame body: unexpected state ${this.#state}`);
      }
    }
    return { kind: "body", consumed: i, complete: false };
  }

  #error(consumed: number, status: FramingErrorStatus, message: string): FrameStep {
    return { kind: "error", consumed, status, message };
  }
}

/** Parse a complete head (without `raw`), or say why it is refused. Pure. */
export function parseHead(
  raw: Uint8Array,
): Omit<RequestHead, "raw"> | { status: FramingErrorStatus; message: string } {
  const lines = latin1.decode(raw).split("\n").map((l) => l.endsWith("\r") ? l.slice(0, -1) : l);
  let at = 0;
  while (at < lines.length && lines[at] === "") at++;
  const m = REQUEST_LINE.exec(lines[at] ?? "");
  if (!m) return { status: 400, message: "malformed request line" };
  if (m[3] !== "1") return { status: 505, message: `HTTP/${m[3]}.${m[4]} is not supported` };
  if (!validTarget(m[2]!)) return { status: 400, message: "malformed request target" };
  const version = m[4] === "0" ? "HTTP/1.0" : "HTTP/1.1";
  const lengths: string[] = [];
  const codings: string[] = [];
  let fields = 0;
  let hosts = 0;
  for (const line of lines.slice(at + 1)) {
    if (line === "") break;
    // What Deno's HTTP server refuses with an empty 400 is refused here first, in JSON.
    if (++fields > MAX_HEADER_FIELDS) {
      return { status: 431, message: `more than ${MAX_HEADER_FIELDS} header fields` };
    }
    if (line[0] === " " || line[0] === "\t") {
      return { status: 400, message: "obsolete line folding in headers" };
    }
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    if (!TOKEN.test(name)) return { status: 400, message: "malformed header line" };
    if (HEADER_CONTROL.test(line)) {
      return { status: 400, message: `control character in header ${name.slice(0, 40)}` };
    }
    const lower = name.toLowerCase();
    if (lower === "host") {
      if (++hosts > 1) return { status: 400, message: "Host given twice" };
      if (!validHost(line.slice(colon + 1).trim())) {
        return { status: 400, message: BAD_HOST };
      }
    }
    if (lower !== "content-length" && lower !== "transfer-encoding") continue;
    const items = line.slice(colon + 1).split(",").map((s) => s.trim()).filter((s) => s !== "");
    if (lower === "content-length" && items.length > 1) {
      return { status: 400, message: "bad or conflicting Content-Length" };
    }
    (lower === "content-length" ? lengths : codings).push(...items);
  }
  let body: BodyFraming = { kind: "none" };
  if (codings.length > 0) {
    if (lengths.length > 0) {
      return { status: 400, message: "both Content-Length and Transfer-Encoding" };
    }
    if (version === "HTTP/1.0") {
      return { status: 400, message: "Transfer-Encoding in an HTTP/1.0 request" };
    }
    if (codings[codings.length - 1]!.toLowerCase() !== "chunked") {
      return { status: 400, message: "Transfer-Encoding does not end with chunked" };
    }
    body = { kind: "chunked" };
  } else if (lengths.length > 0) {
    const first = lengths[0]!;
    if (!/^\d{1,15}$/.test(first) || lengths.some((l) => l !== first)) {
      return { status: 400, message: "bad or conflicting Content-Length" };
    }
    const length = Number(first);
    if (length > 0) body = { kind: "length", length };
  }
  return { method: m[1]!, target: m[2]!, version, body };
}
