/**
 * HTTP/1.1 response framing on the server-to-client byte stream of one
 * connection behind the head guard (`guarded_conn.ts`): where each response
 * head and body ends, and which request a final response answers, so that the
 * guard can close a connection once the answer to a request whose body it has
 * not all received has been passed on. Pure: bytes in, steps out.
 *
 * It reads the inner `Deno.serve` server's (well-formed) output and only what
 * framing needs: the status, `Content-Length`, chunked `Transfer-Encoding`;
 * bodies are framed by {@link RequestFramer}. `1xx` heads (`100 Continue`)
 * answer no request; a `HEAD` request's, `204` and `304` have no body;
 * anything it cannot frame (`101`, no length) is passed on until the close.
 *
 * @module
 */
import { CR, LF, RequestFramer } from "./request_framing.ts";
import { latin1 } from "./request_target.ts";

/** One step of {@link ResponseFramer.feed}: the first `consumed` bytes of the input. */
export type ResponseStep =
  | { kind: "head"; consumed: number; complete: false }
  | {
    kind: "head";
    consumed: number;
    complete: true;
    raw: Uint8Array;
    final: boolean;
    ends: boolean;
  }
  | { kind: "body"; consumed: number; ends: boolean };

/** Incremental response framer for one connection; {@link expect} each request sent. */
export class ResponseFramer {
  /** Per request sent whose final response has not begun: whether it was a `HEAD`. */
  #awaiting: boolean[] = [];
  #head: Uint8Array | undefined;
  #headLength = 0;
  #lineLength = 0;
  #bodies: RequestFramer | undefined;
  #inBody = false;
  #untilClose = false;

  /** A request was sent: its final response follows those of the requests sent before it. */
  expect(method: string): void {
    this.#awaiting.push(method === "HEAD");
  }

  /** Requests sent whose final response has not begun. */
  get awaiting(): number {
    return this.#awaiting.length;
  }

  /**
   * Consume a prefix of `input` (all of it, or up to the end of a head or body). A head's bytes are
   * held until it is complete (`raw`, valid until the next call); `ends`: a final response ends.
   */
  feed(input: Uint8Array): ResponseStep {
    if (this.#untilClose) return { kind: "body", consumed: input.length, ends: false };
    if (this.#inBody) {
      const step = this.#bodies!.feed(input);
      if (step.kind !== "body") {
        this.#untilClose = true; // not from Deno: pass it on
        return { kind: "body", consumed: input.length, ends: false };
      }
      this.#inBody = !step.complete;
      return { kind: "body", consumed: step.consumed, ends: step.complete };
    }
    let i = 0;
    let complete = false;
    while (!complete && i < input.length) { // line by line, to the empty one
      const lf = input.indexOf(LF, i);
      const end = lf < 0 ? input.length : lf;
      const length = end - i - (end > i && input[end - 1] === CR ? 1 : 0);
      i = lf < 0 ? end : lf + 1;
      if (lf < 0) this.#lineLength += length;
      else {
        complete = this.#lineLength + length === 0;
        this.#lineLength = 0;
      }
    }
    if (complete && this.#headLength === 0) { // all in this input: the common case, no copy
      return { kind: "head", consumed: i, complete, ...this.#begin(input.subarray(0, i)) };
    }
    const need = this.#headLength + i;
    if (!this.#head || need > this.#head.length) {
      const grown = new Uint8Array(Math.max(need, 512, (this.#head?.length ?? 0) * 2));
      if (this.#head) grown.set(this.#head.subarray(0, this.#headLength));
      this.#head = grown;
    }
    this.#head.set(input.subarray(0, i), this.#headLength);
    this.#headLength = complete ? 0 : need;
    if (!complete) return { kind: "head", consumed: i, complete };
    return { kind: "head", consumed: i, complete, ...this.#begin(this.#head.subarray(0, need)) };
  }

  /** After a complete head: what follows it. */
  #begin(raw: Uint8Array): { raw: Uint8Array; final: boolean; ends: boolean } {
    const status = decimal(raw, 9, 12);
    if (status === 101 || !(status >= 100)) this.#untilClose = true; // not from Deno: pass it on
    if (!(status >= 200)) return { raw, final: false, ends: false };
    const head = this.#awaiting.shift() ?? false;
    if (head || status === 204 || status === 304) return { raw, final: true, ends: true };
    let length = NaN;
    let chunked = false;
    for (let at = raw.indexOf(LF) + 1; at > 0 && at < raw.length; at = raw.indexOf(LF, at) + 1) {
      if (named(raw, at, "content-length:")) length = decimal(raw, at + 15, raw.indexOf(LF, at));
      else if (named(raw, at, "transfer-encoding:")) {
        chunked = /chunked/i.test(latin1.decode(raw.subarray(at, raw.indexOf(LF, at))));
      }
    }
    if (!chunked && !(length >= 0)) this.#untilClose = true;
    else if (chunked || length > 0) {
      this.#bodies ??= new RequestFramer();
      this.#bodies.expectBody(chunked ? { kind: "chunked" } : { kind: "length", length });
      this.#inBody = true;
    }
    return { raw, final: true, ends: !this.#inBody && !this.#untilClose };
  }
}

/** Whether the line of `raw` at `at` starts with `name` (lower case), in any case. */
function named(raw: Uint8Array, at: number, name: string): boolean {
  for (let k = 0; k < name.length; k++) {
    if ((raw[at + k]! | 0x20) !== name.charCodeAt(k)) return false;
  }
  return true;
}

/** The decimal number in `raw` from `from` to `to` (blanks around it skipped), or NaN. */
function decimal(raw: Uint8Array, from: number, to: number): number {
  const text = String.fromCharCode(...raw.subarray(from, to)).trim();
  return /^\d{1,15}$/.test(text) ? Number(text) : NaN;
}

/** `raw` (a response head) saying `Connection: close`. */
export function withClose(raw: Uint8Array): Uint8Array {
  if (/\r\nconnection:[^\r]*\bclose\b/i.test(latin1.decode(raw))) return raw;
  const line = new TextEncoder().encode("connection: close\r\n");
  const out = new Uint8Array(raw.length + line.length);
  out.set(raw.subarray(0, raw.length - 2));
  out.set(line, raw.length - 2);
  out.set(raw.subarray(raw.length - 2), raw.length + line.length - 2);
  return out;
}
