import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseWithConfigFile } from './cli.js';
import { FlagError, type FlagSpec } from './flags.js';
import { IniError, parseIni, readIniFile } from './ini.js';

// The seed README's scanner config, as users have it.
const SCANNER = `
...
[General]
core = 0
enable-check = true
hostname = hostname1
[Check]
scann-ports = 22, 80, 8080   ; ports to try
enable-icmp = true
[Etcd]
etcd-machine = http://127.0.0.1:2379
tls-key =
ca-cert = ""
status-path = /hades/monitor/status
`;

describe('parseIni', () => {
  it('reads the seed layout: sections, keys case-insensitive, comments, empty values', () => {
    const v = parseIni(SCANNER);
    assert.equal(v.get('general.hostname'), 'hostname1');
    assert.equal(v.get('check.scann-ports'), '22, 80, 8080');
    assert.equal(v.get('etcd.etcd-machine'), 'http://127.0.0.1:2379');
    assert.equal(v.get('etcd.tls-key'), '');
    assert.equal(v.get('etcd.ca-cert'), '');
    assert.equal(parseIni('[General]\nDomain = x # c').get('general.domain'), 'x');
  });
  const bad: [string, RegExp][] = [
    ['[General]\njust words', /:2: expected "key = value"/],
    ['= value', /:1: expected/],
    ['[S]\nk = "open', /:2: unterminated quote/],
    ['[S]\nk y = 1', /:2: bad key/],
  ];
  for (const [text, re] of bad)
    it(`rejects ${JSON.stringify(text)}`, () => assert.throws(() => parseIni(text, 'f.conf'), re));
});

describe('config file + flags', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hades-ini-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'api.conf');
  writeFileSync(
    file,
    '[General]\netcd-server = http://127.0.0.1:2379\n[HadesApi]\napi-address = 127.0.0.1:9001\n',
  );
  const specs: FlagSpec[] = [
    { name: 'config-file', type: 'string', default: join(dir, 'missing.conf'), help: 'config' },
    { name: 'etcd-server', type: 'list', default: '', help: 'etcd', ini: 'General.etcd-server' },
    { name: 'api-address', type: 'string', default: '', help: 'api', ini: 'HadesApi.api-address' },
  ];
  it('file values fill what argv and env leave unset; argv and env win', () => {
    const p = parseWithConfigFile(
      specs,
      ['-config-file', file, '-api-address', '0.0.0.0:1'],
      {},
      'config-file',
    );
    assert.deepEqual(p.values['etcd-server'], ['http://127.0.0.1:2379']);
    assert.equal(p.values['api-address'], '0.0.0.0:1');
    const q = parseWithConfigFile(
      specs,
      ['-config-file', file],
      { HADES_API_ADDRESS: '10.0.0.1:2' },
      'config-file',
    );
    assert.equal(q.values['api-address'], '10.0.0.1:2');
  });
  it('the default file may be missing; an explicit one may not', () => {
    const p = parseWithConfigFile(specs, [], {}, 'config-file');
    assert.deepEqual(p.values['etcd-server'], []);
    assert.throws(
      () => parseWithConfigFile(specs, ['-config-file', join(dir, 'nope')], {}, 'config-file'),
      IniError,
    );
    assert.throws(() => readIniFile(join(dir, 'nope'), true), /cannot read .*ENOENT/);
  });
  it('a bad value in the file names the flag, the key and the file', () => {
    const bad = join(dir, 'bad.conf');
    writeFileSync(bad, '[Check]\ncount = many\n');
    const s: FlagSpec[] = [
      { name: 'config-file', type: 'string', default: '', help: '' },
      { name: 'count', type: 'int', default: '1', help: '', ini: 'Check.count' },
    ];
    assert.throws(
      () => parseWithConfigFile(s, ['-config-file', bad], {}, 'config-file'),
      (e: unknown) =>
        e instanceof FlagError &&
        /-count \(Check\.count in .*bad\.conf\): "many" is not an integer/.test(e.message),
    );
  });
});
