import type dgram from 'node:dgram';

/**
 * dgram resolves a send address with dns.lookup, answering on the next tick; Hades only ever
 * sends to IP literals, so answer at once and the send happens synchronously. (dgram calls it as
 * `lookup(address, family, cb)`, whatever @types/node says.) For the server's and the
 * forwarder's sockets.
 */
export const literalLookup = ((
  address: string,
  family: number,
  cb: (err: Error | null, address: string, family: number) => void,
): void => {
  cb(null, address, family);
}) as unknown as dgram.SocketOptions['lookup'];
