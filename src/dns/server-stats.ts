/**
 * The DNS server's counters: one plain object, shared by the pipeline and the transports (each
 * adds to its own fields), read by the metrics at scrape time. Requests by type and responses by
 * rcode are in `QueryCounters` (query-counters.ts).
 */
export interface DnsServerStats {
  /** Requests answered with nothing: no readable header, a response, the handler's DROP. */
  dropped: number;
  /** Responses sent with TC set. */
  truncated: number;
  /** Requests for names in none of our zones (cache, forwarder or REFUSED). */
  forwarded: number;
  /** Handler, cache or forwarder exceptions (answered SERVFAIL). */
  handlerErrors: number;
  /** UDP requests dropped because every writer was waiting on the kernel (dgram), or replies the kernel's send buffer had no room for (batched). */
  udpBusyDrops: number;
  udpSendErrors: number;
  udpSocketErrors: number;
  tcpConnections: number;
  /** Connections closed at accept because of the cap. */
  tcpRejected: number;
  tcpIdleTimeouts: number;
  tcpErrors: number;
  /** Zero-length frames (skipped). */
  tcpEmptyFrames: number;
  /** Times a connection stopped reading because its unsent replies exceeded the cap. */
  tcpBackpressure: number;
  /** Connections closed with a partial frame. */
  tcpPartialFrames: number;
}

export function newServerStats(): DnsServerStats {
  return {
    dropped: 0,
    truncated: 0,
    forwarded: 0,
    handlerErrors: 0,
    udpBusyDrops: 0,
    udpSendErrors: 0,
    udpSocketErrors: 0,
    tcpConnections: 0,
    tcpRejected: 0,
    tcpIdleTimeouts: 0,
    tcpErrors: 0,
    tcpEmptyFrames: 0,
    tcpBackpressure: 0,
    tcpPartialFrames: 0,
  };
}
