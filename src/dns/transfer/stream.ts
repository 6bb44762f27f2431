/**
 * Writes a zone transfer (AXFR, or IXFR's sequences) as DNS messages of about `target` octets
 * onto a connection: records are added one by one, a message is sent when it is full (signed
 * with TSIG when the request was), and the writer waits for the connection to drain before the
 * next, so the memory a transfer holds is one message and the socket's bounded buffer.
 */
import { writeSOA } from '../answer-context.js';
import type { ReplyStream } from '../types.js';
import { Flag, MAX_MESSAGE, Rcode, Section } from '../wire/constants.js';
import type { Query } from '../wire/query.js';
import { ResponseWriter } from '../wire/writer.js';
import type { Zone } from '../zones.js';
import { keyRdata, keyTtl, keyType } from './render.js';
import type { TsigSigner } from './tsig.js';

/** A message is sent once it holds this many octets (RFC 5936 leaves the size to the server). */
export const MESSAGE_TARGET = 16_384;

export class TransferWriter {
  private readonly w = new ResponseWriter();
  private open = false;
  /** Messages sent. */
  messages = 0;
  /** Records written. */
  records = 0;

  constructor(
    private readonly q: Query,
    private readonly zone: Zone,
    private readonly minTtl: number,
    private readonly out: ReplyStream,
    private readonly signer: TsigSigner | undefined,
    private readonly now: () => number,
    private readonly target = MESSAGE_TARGET,
  ) {}

  /** The connection went away: stop. */
  get closed(): boolean {
    return this.out.closed;
  }

  /** The zone's SOA with `serial` (a full revision; mod 2^32 on the wire). */
  soa(serial: number): void {
    this.begin();
    writeSOA(this.w, Section.ANSWER, this.zone.name, this.zone, this.minTtl, serial >>> 0);
    this.records++;
  }

  /** One record: its owner and render.ts key. */
  rr(owner: string, key: string): void {
    this.begin();
    this.w.addRaw(Section.ANSWER, owner, keyType(key), keyTtl(key), keyRdata(key));
    this.records++;
  }

  /** The current message is full enough to send. */
  get full(): boolean {
    return this.open && this.w.size >= this.target;
  }

  /** Sends the current message (if any), then waits until the connection can take more. */
  async flush(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    let n = this.w.finish(MAX_MESSAGE);
    if (this.signer !== undefined) n = this.signer.sign(this.w.buf, n, this.now());
    this.messages++;
    if (!this.out.send(this.w.buf, n)) return;
    await this.out.drained();
  }

  private begin(): void {
    if (this.open) return;
    this.w.start(this.q, Rcode.NOERROR, Flag.AA);
    this.open = true;
  }
}
