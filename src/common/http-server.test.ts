import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { describe, it } from 'node:test';
import { guardHttpServer } from './http-server.js';

describe('guardHttpServer', () => {
  it('sets the timeouts and answers a malformed request 400, closing it', async () => {
    const server = http.createServer((_req, res) => res.end('ok'));
    guardHttpServer(server, 30_000, 10_000);
    assert.equal(server.keepAliveTimeout, 5000);
    assert.equal(server.requestTimeout, 30_000);
    assert.equal(server.headersTimeout, 10_000);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const sock = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
      let got = '';
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => {
        got += d;
      });
      sock.write('NOT HTTP AT ALL\r\n\r\n');
      await once(sock, 'close');
      assert.match(got, /^HTTP\/1\.1 400 Bad Request\r\n/);
    } finally {
      server.close();
    }
  });
});
