import assert from 'node:assert/strict';
import { it } from 'node:test';
import { formatHostPort, HostPortError, parseHostPort } from './host-port.js';

it('parseHostPort and formatHostPort', () => {
  assert.deepEqual(parseHostPort(':53'), { host: '0.0.0.0', port: 53, family: 4 });
  assert.deepEqual(parseHostPort('[::]:53'), { host: '::', port: 53, family: 6 });
  assert.deepEqual(parseHostPort('2001:DB8::1', 53), { host: '2001:db8::1', port: 53, family: 6 });
  assert.equal(formatHostPort(parseHostPort('[2001:db8::1]:8053')), '[2001:db8::1]:8053');
  assert.throws(
    () => parseHostPort('127.0.0.1'),
    (e) => e instanceof HostPortError && /has no port/.test(e.message),
  );
  assert.throws(() => parseHostPort('localhost:53'), /host names are not accepted/);
});
