/** A one-shot UDP A query for the benches: waits until a server answers a name with addresses. */
import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { RRType } from '../../src/dns/wire/constants.js';
import { decode } from '../../src/dns/wire/decode.js';
import { encodeQuery } from '../../src/dns/wire/encode.js';

/** The A addresses `127.0.0.1:port` answers for `name` ([] for none or no reply within `ms`). */
export function queryA(port: number, name: string, ms = 500): Promise<string[]> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    const id = (Math.random() * 0xffff) | 0;
    const timer = setTimeout(() => {
      sock.close();
      resolve([]);
    }, ms);
    sock.on('message', (m) => {
      if (m.length < 2 || m.readUInt16BE(0) !== id) return;
      clearTimeout(timer);
      sock.close();
      try {
        resolve(
          decode(m)
            .answers.filter((r) => r.type === RRType.A)
            .map((r) => r.data as string),
        );
      } catch {
        resolve([]);
      }
    });
    sock.on('error', () => {
      clearTimeout(timer);
      sock.close();
      resolve([]);
    });
    sock.send(encodeQuery({ id, name, type: RRType.A }), port, '127.0.0.1');
  });
}

/** Polls until `name` has an A answer on `port`; throws after `timeoutMs` (with `why()` appended). */
export async function waitAnswer(
  port: number,
  name: string,
  timeoutMs = 60_000,
  why: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await queryA(port, name)).length === 0) {
    if (Date.now() > deadline)
      throw new Error(`no answer for ${name} on port ${port} within ${timeoutMs} ms${why()}`);
    await sleep(20);
  }
}
