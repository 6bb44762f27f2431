/**
 * A request whose reply comes after its turn (forwarded, or a CNAME chain completed upstream):
 * who asked (a copy: the transport reuses its ClientInfo), when, and the transport that sends
 * the reply. Slow path: one object per such request.
 */
import type { ClientInfo, LateReplies } from '../types.js';

/** What a pending reply reports to when it is sent (the pipeline: counters, query log). */
export interface SentObserver {
  sent(client: Readonly<ClientInfo>, reply: Buffer, length: number, t0: number): void;
  unsent(): void;
}

export class Pending {
  readonly client: ClientInfo;
  private settled = false;

  constructor(
    client: Readonly<ClientInfo>,
    private readonly t0: number,
    private readonly late: LateReplies,
    private readonly observer: SentObserver,
  ) {
    this.client = {
      address: client.address,
      port: client.port,
      family: client.family,
      transport: client.transport,
    };
  }

  /** Sends `reply[0, length)` (null: nothing, the transport only stops waiting). Once. */
  settle(reply: Buffer | null, length: number): void {
    if (this.settled) return;
    this.settled = true;
    const sent = this.late.later(this.client, reply, length);
    if (sent && reply !== null) this.observer.sent(this.client, reply, length, this.t0);
    else this.observer.unsent();
  }
}
