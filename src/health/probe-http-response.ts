/**
 * An incremental reader of one HTTP/1.1 response, for probes: the status, whether the connection
 * may be reused, and the body decoded from content-length, chunked or read-to-close framing, with
 * a search for the expected substring in its first `MAX_PROBE_BODY` bytes.
 *
 * It is strict and bounded, since the server is the thing under test: the head (status line,
 * headers) at most `MAX_HEAD` bytes, each chunk-size line and the trailers bounded too, and
 * anything unexpected is `malformed response` rather than a guess. Nothing here throws.
 */
import { MAX_PROBE_BODY } from '../records/probe.js';

/** The most bytes of status line and headers read (Node's own default limit). */
export const MAX_HEAD = 16 * 1024;
const MAX_CHUNK_LINE = 1024;

/** Why a response could not be read: the text after `HTTP: ` in a reason. */
export type ResponseError =
  | 'malformed response'
  | 'headers too large'
  | 'empty response'
  | 'connection closed early';

const HEAD_END = Buffer.from('\r\n\r\n');
const PREFIX = Buffer.from('HTTP/1.');
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9][0-9]{2})(?: [^\r\n]*)?$/;
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/;
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,8})[ \t]*(?:;[^\r\n]*)?$/;

// body framings
const NONE = 0;
const LENGTH = 1;
const CHUNKED = 2;
const TO_CLOSE = 3;
// chunked states
const SIZE = 0;
const DATA = 1;
const DATA_END = 2;
const TRAILER = 3;

export class ResponseReader {
  /** The status code, once `headDone`. */
  status = 0;
  headDone = false;
  /** The whole body has been read (with read-to-close framing: after `end()`). */
  bodyDone = false;
  /** Body bytes seen so far (decoded). */
  bodySeen = 0;
  /** The expected substring was found within the first `MAX_PROBE_BODY` bytes of the body. */
  found = false;
  /** Set once the response cannot be read; nothing more is read after it. */
  error: ResponseError | undefined;
  /** Bytes received in all. */
  received = 0;
  #persistent = false;
  #extra = false;
  #needle: Buffer | undefined;
  #head: Buffer | undefined;
  #body: Buffer | undefined;
  #framing = NONE;
  #remaining = 0;
  #chunkState = SIZE;
  #line = '';
  #trailerBytes = 0;

  /** `needle`: the substring to look for in the body (undefined: the body is only framed). */
  constructor(needle: Buffer | undefined) {
    this.#needle = needle;
  }

  /** The server allows another request on this connection after this response, read whole. */
  get reusable(): boolean {
    return this.#persistent && this.bodyDone && !this.#extra && this.error === undefined;
  }

  /** Reads the next bytes from the connection. */
  push(data: Buffer): void {
    if (this.error !== undefined || data.length === 0) return;
    this.received += data.length;
    if (!this.headDone) this.#readHead(data);
    else if (!this.bodyDone) this.#readBody(data, 0);
    else this.#extra = true;
  }

  /** The connection ended (the server closed its side). */
  end(): void {
    if (this.error !== undefined || this.bodyDone) return;
    if (!this.headDone) this.error = this.received === 0 ? 'empty response' : 'connection closed early';
    else if (this.#framing === TO_CLOSE) this.bodyDone = true;
    else this.error = 'connection closed early';
  }

  #readHead(data: Buffer): void {
    const old = this.#head?.length ?? 0;
    const head = old === 0 ? data : Buffer.concat([this.#head!, data]);
    // not an HTTP response at all: say so now rather than at the timeout
    const n = Math.min(head.length, PREFIX.length);
    if (head.compare(PREFIX, 0, n, 0, n) !== 0) {
      this.error = 'malformed response';
      return;
    }
    const at = head.indexOf(HEAD_END, Math.max(0, old - 3));
    if (at < 0) {
      if (head.length >= MAX_HEAD) this.error = 'headers too large';
      else this.#head = head;
      return;
    }
    if (at + HEAD_END.length > MAX_HEAD) {
      this.error = 'headers too large';
      return;
    }
    this.#head = undefined;
    if (!this.#parseHead(head.toString('latin1', 0, at))) {
      this.error = 'malformed response';
      return;
    }
    const rest = at + HEAD_END.length;
    if (this.status < 200 && this.status !== 101) {
      // an interim response (100 Continue, 103 Early Hints): the real one follows
      this.status = 0;
      if (rest < head.length) this.#readHead(head.subarray(rest));
      return;
    }
    this.headDone = true;
    if (this.#framing === NONE || (this.#framing === LENGTH && this.#remaining === 0)) this.bodyDone = true;
    if (rest < head.length) {
      if (this.bodyDone) this.#extra = true;
      else this.#readBody(head, rest);
    }
  }

  /** The status line and headers; false when they are not well-formed. */
  #parseHead(text: string): boolean {
    const lines = text.split('\r\n');
    const m = STATUS_LINE.exec(lines[0]);
    if (m === null) return false;
    this.status = Number(m[2]);
    const http11 = m[1] === '1';
    let length: number | undefined;
    let chunked = false;
    let encoded = false;
    let close = false;
    let keepAlive = false;
    for (let i = 1; i < lines.length; i++) {
      const h = HEADER_LINE.exec(lines[i]);
      if (h === null) return false;
      const name = h[1].toLowerCase();
      const value = h[2];
      if (name === 'content-length') {
        // a repeated (or comma-joined) length must agree with itself
        for (const part of value.split(',')) {
          const v = part.trim();
          if (!/^[0-9]{1,15}$/.test(v)) return false;
          if (length !== undefined && length !== Number(v)) return false;
          length = Number(v);
        }
      } else if (name === 'transfer-encoding') {
        encoded = true;
        const codings = value.toLowerCase().split(',');
        chunked = codings[codings.length - 1].trim() === 'chunked';
      } else if (name === 'connection') {
        for (const t of value.toLowerCase().split(',')) {
          const token = t.trim();
          if (token === 'close') close = true;
          else if (token === 'keep-alive') keepAlive = true;
        }
      }
    }
    this.#persistent = !close && (http11 || keepAlive);
    if (this.status < 200 || this.status === 204 || this.status === 304) this.#framing = NONE;
    else if (encoded) {
      // a length beside a transfer coding is a smuggling shape: read the coding, never reuse
      if (length !== undefined) this.#persistent = false;
      this.#framing = chunked ? CHUNKED : TO_CLOSE;
    } else if (length !== undefined) {
      this.#framing = LENGTH;
      this.#remaining = length;
    } else this.#framing = TO_CLOSE;
    if (this.#framing === TO_CLOSE) this.#persistent = false;
    return true;
  }

  #readBody(data: Buffer, from: number): void {
    if (this.#framing === LENGTH) {
      const n = Math.min(this.#remaining, data.length - from);
      this.#take(data, from, from + n);
      this.#remaining -= n;
      if (this.#remaining === 0) {
        this.bodyDone = true;
        if (from + n < data.length) this.#extra = true;
      }
    } else if (this.#framing === TO_CLOSE) this.#take(data, from, data.length);
    else this.#readChunked(data, from);
  }

  #readChunked(data: Buffer, from: number): void {
    let i = from;
    while (i < data.length && this.error === undefined && !this.bodyDone) {
      if (this.#chunkState === DATA) {
        const n = Math.min(this.#remaining, data.length - i);
        this.#take(data, i, i + n);
        i += n;
        this.#remaining -= n;
        if (this.#remaining === 0) {
          this.#chunkState = DATA_END;
          this.#line = '';
        }
        continue;
      }
      // SIZE, DATA_END and TRAILER read lines
      const lf = data.indexOf(10, i);
      const end = lf < 0 ? data.length : lf;
      this.#line += data.toString('latin1', i, end);
      if (this.#chunkState === TRAILER) this.#trailerBytes += end - i + 1;
      i = lf < 0 ? data.length : lf + 1;
      if (this.#line.length > MAX_CHUNK_LINE || this.#trailerBytes > MAX_HEAD) {
        this.error = 'malformed response';
        return;
      }
      if (lf < 0) return;
      if (!this.#line.endsWith('\r')) {
        this.error = 'malformed response';
        return;
      }
      const line = this.#line.slice(0, -1);
      this.#line = '';
      if (this.#chunkState === DATA_END) {
        if (line !== '') this.error = 'malformed response';
        else this.#chunkState = SIZE;
      } else if (this.#chunkState === SIZE) {
        const m = CHUNK_SIZE.exec(line);
        if (m === null) {
          this.error = 'malformed response';
          return;
        }
        this.#remaining = Number.parseInt(m[1], 16);
        this.#chunkState = this.#remaining === 0 ? TRAILER : DATA;
      } else if (line === '') this.bodyDone = true;
      else if (!HEADER_LINE.test(line)) this.error = 'malformed response';
    }
    if (this.bodyDone && i < data.length) this.#extra = true;
  }

  /** Body bytes: counted, and searched while within the first MAX_PROBE_BODY bytes. */
  #take(data: Buffer, from: number, to: number): void {
    const before = this.bodySeen;
    this.bodySeen += to - from;
    const needle = this.#needle;
    if (needle === undefined || this.found || before >= MAX_PROBE_BODY) return;
    const part = data.subarray(from, Math.min(to, from + (MAX_PROBE_BODY - before)));
    const old = this.#body?.length ?? 0;
    const body = old === 0 ? part : Buffer.concat([this.#body!, part]);
    this.found = body.indexOf(needle, Math.max(0, old - needle.length + 1)) >= 0;
    // only the tail that a match across the next boundary could start in is kept
    this.#body = this.found ? undefined : body.subarray(Math.max(0, body.length - needle.length + 1));
  }
}
