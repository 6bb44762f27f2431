import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { it } from 'node:test';
import { createLogger } from './logger.js';

it('redacts tokens and auth headers and writes one JSON line per event', () => {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  }) as unknown as import('pino').DestinationStream;
  const log = createLogger({ program: 'test', destination });
  log.info({ token: 'abcdef123456789', req: { headers: { authorization: 'Bearer s3cret' } } }, 'request');
  log.info({ hadesAuth: 'zzz' }, 'config');
  assert.equal(lines.length, 2);
  const text = lines.join('\n');
  assert.doesNotMatch(text, /abcdef123456789|s3cret|zzz/);
  const first = JSON.parse(lines[0]);
  assert.equal(first.token, '[redacted]');
  assert.equal(first.msg, 'request');
  assert.equal(first.name, 'test');
});
