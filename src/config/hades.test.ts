import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatHostPort } from '../common/host-port.js';
import { FlagError, HelpRequested } from './flags.js';
import { hadesUsage, parseHadesArgs } from './hades.js';

const cfg = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseHadesArgs(argv, env).config;

describe('hades config', () => {
  it('has the seed defaults', () => {
    const c = cfg([]);
    assert.equal(c.mode, 'server');
    assert.deepEqual(c.listen, { host: '127.0.0.1', port: 53, family: 4 });
    assert.deepEqual(c.zones, ['hades.local.']);
    assert.deepEqual(c.machines, []);
    assert.equal(c.dataDir, './hades-data');
    assert.equal(c.prefix, '/hades');
    assert.equal(c.ipMonitorPath, '/hades/monitor/status/');
    assert.equal(c.readTimeoutMs, 2000);
    assert.equal(c.defaultTtl, 3600);
    assert.equal(c.select, 'sticky');
    assert.equal(c.allDown, 'open');
    assert.equal(c.trustEcs, false);
    assert.equal(c.workers, 1);
    assert.equal(c.rcache, 0);
    assert.equal(c.rcacheTtl, 60);
    assert.equal(c.metricsPort, 0);
    assert.deepEqual(c.nameservers, []);
    assert.equal(c.apiAddr, undefined);
    assert.equal(c.tls, undefined);
    assert.deepEqual(c.log, { logtostderr: false, logDir: '', verbosity: 0 });
  });

  it('reads one- and two-dash flags, aliases and the environment', () => {
    const c = cfg(
      [
        '--addr=[::1]:5300',
        '-rtimeout',
        '500ms',
        '-domain',
        'Hades.Local,10.in-addr.arpa.,hades.local.',
        '-machines=http://127.0.0.1:2379,127.0.0.1:22379',
        '-select',
        'all',
        '-all-down',
        'closed',
        '-nameservers',
        '8.8.8.8:53,[2001:db8::1]:5353,1.1.1.1',
        '-ttl',
        '30',
        '-prefix',
        '/skydns/',
        '-ip-monitor-path',
        '/hades/monitor/status',
        '-logtostderr',
        '-v',
        '2',
      ],
      { HADES_RCACHE: '1000', HADES_RCACHE_TTL: '30', HADES_METRICS_PORT: '9153', HADES_WORKERS: '3' },
    );
    assert.deepEqual(c.listen, { host: '::1', port: 5300, family: 6 });
    assert.equal(c.readTimeoutMs, 500);
    assert.deepEqual(c.zones, ['hades.local.', '10.in-addr.arpa.']);
    assert.deepEqual(c.machines, ['http://127.0.0.1:2379', '127.0.0.1:22379']);
    assert.equal(c.select, 'all');
    assert.equal(c.allDown, 'closed');
    assert.deepEqual(
      c.nameservers.map((n) => formatHostPort(n)),
      ['8.8.8.8:53', '[2001:db8::1]:5353', '1.1.1.1:53'],
    );
    assert.equal(c.defaultTtl, 30);
    assert.equal(c.prefix, '/skydns');
    assert.equal(c.ipMonitorPath, '/hades/monitor/status/');
    assert.equal(c.rcache, 1000);
    assert.equal(c.rcacheTtl, 30);
    assert.equal(c.metricsPort, 9153);
    assert.equal(c.workers, 3);
    assert.deepEqual(c.log, { logtostderr: true, logDir: '', verbosity: 2 });
    assert.equal(cfg(['-read_timeout', '3s']).readTimeoutMs, 3000);
    assert.ok(cfg(['-workers', '0']).workers >= 1);
    assert.equal(cfg(['-trust-ecs']).trustEcs, true);
    assert.equal(cfg(['--trust-ecs=false'], { HADES_TRUST_ECS: 'true' }).trustEcs, false);
    assert.equal(cfg([], { HADES_TRUST_ECS: 'true' }).trustEcs, true);
    assert.equal(cfg([], { HADES_ALL_DOWN: 'closed' }).allDown, 'closed');
    assert.equal(cfg(['-all-down=open'], { HADES_ALL_DOWN: 'closed' }).allDown, 'open');
    assert.equal(cfg(['standalone', '-all-down', 'closed']).allDown, 'closed');
  });

  it('takes the etcd TLS files from flags, else from ETCD_* variables', () => {
    const file = new URL(import.meta.url).pathname; // any readable file
    assert.deepEqual(cfg(['-ca-cert', file]).tls, { ca: file, names: { ca: '-ca-cert' } });
    assert.deepEqual(cfg([], { ETCD_CACERT: file, ETCD_TLSKEY: file, ETCD_TLSPEM: file }).tls, {
      ca: file,
      key: file,
      cert: file,
      names: { ca: '$ETCD_CACERT', key: '$ETCD_TLSKEY', cert: '$ETCD_TLSPEM' },
    });
    // the flag (here HADES_CA_CERT) wins over the variable; each file keeps the name it came by
    assert.deepEqual(
      cfg(['-tls-key', file, '-tls-pem', file], { HADES_CA_CERT: file, ETCD_CACERT: '/nonexistent' }).tls,
      { ca: file, key: file, cert: file, names: { ca: '-ca-cert', key: '-tls-key', cert: '-tls-pem' } },
    );
  });

  it('standalone: its own defaults, flags before and after the word', () => {
    const s = cfg(['standalone']);
    assert.equal(s.mode, 'standalone');
    assert.deepEqual(s.listen, { host: '127.0.0.1', port: 5353, family: 4 });
    assert.deepEqual(s.apiAddr, { host: '127.0.0.1', port: 9001, family: 4 });
    assert.equal(s.dataDir, './hades-data');
    const t = cfg([
      '-v',
      '1',
      'standalone',
      '-addr',
      '127.0.0.1:5300',
      '--api-addr=127.0.0.1:9100',
      '-data-dir',
      '/tmp/x',
    ]);
    assert.equal(t.log.verbosity, 1);
    assert.equal(t.listen.port, 5300);
    assert.equal(t.apiAddr?.port, 9100);
    assert.equal(t.dataDir, '/tmp/x');
    // a flag whose value is the word is not the command
    assert.equal(cfg(['-data-dir', 'standalone']).mode, 'server');
    // -api-addr means nothing outside standalone
    assert.equal(cfg(['-api-addr', '127.0.0.1:9001']).apiAddr, undefined);
  });

  it('rejects bad values with an error naming the flag', () => {
    const cases: [string[], string, RegExp][] = [
      [['-addr', 'localhost:53'], 'addr', /not an IP address/],
      [['-addr', '127.0.0.1'], 'addr', /no port/],
      [['-addr', '::1:53'], 'addr', /\[::1\]:53/],
      [['-addr', '127.0.0.1:70000'], 'addr', /port/],
      [['-addr', '127.0.0.1:0'], 'addr', /port/],
      [['-addr', '[::1]53'], 'addr', /IPv6/],
      [['-domain', 'bad..name'], 'domain', /empty label/],
      [['-domain', 'a_b!.local'], 'domain', /-domain/],
      [['-domain', '*.local'], 'domain', /wildcard/],
      [['-domain', ','], 'domain', /no zone/],
      [['-machines', 'ftp://x:1'], 'machines', /etcd endpoint/],
      [['-machines', 'http://127.0.0.1'], 'machines', /etcd endpoint/],
      [['-select', 'roundrobin'], 'select', /sticky, random-one, all/],
      [['-all-down', 'shut'], 'all-down', /not one of open, closed/],
      [['-all-down', 'CLOSED'], 'all-down', /not one of open, closed/],
      [['-workers', '-1'], 'workers', /minimum/],
      [['-workers', 'two'], 'workers', /integer/],
      [['-read_timeout', '0s'], 'read_timeout', /outside/],
      [['-rtimeout', 'soon'], 'read_timeout', /duration/],
      [['-ttl', '-5'], 'ttl', /minimum/],
      [['-rcache', '-1'], 'rcache', /minimum/],
      [['-rcache_ttl', '0'], 'rcache_ttl', /minimum/],
      [['-metrics-port', '65536'], 'metrics-port', /maximum/],
      // the same words as -stub's: both name upstreams, one parser (common/host-port.ts)
      [
        ['-nameservers', 'dns.google'],
        'nameservers',
        /^-nameservers: "dns\.google" is not an IP address \(want ip, ip:port or \[ipv6\]:port\)$/,
      ],
      [['-nameservers', '0.0.0.0:53'], 'nameservers', /not a server/],
      [['-prefix', 'hades'], 'prefix', /key prefix/],
      [['-ip-monitor-path', '/'], 'ip-monitor-path', /key prefix/],
      [['-ip-monitor-path', '/'], 'ip-monitor-path', /key prefix/],
      [
        ['-prefix', '/hades/monitor/status/x', '-ip-monitor-path', '/hades/monitor/status/'],
        'ip-monitor-path',
        /contains/,
      ],
      [
        ['-ca-cert', '/nonexistent/ca.pem'],
        'ca-cert',
        /^-ca-cert \/nonexistent\/ca.pem: cannot read it: no such file$/,
      ],
      [['-tls-key', new URL(import.meta.url).pathname], 'tls-pem', /go together/],
      [['-nosuchflag'], 'nosuchflag', /not defined/],
      [['serve'], 'serve', /unexpected argument/],
      [['standalone', 'extra'], 'extra', /unexpected argument/],
      [['standalone', '-api-addr', 'nope'], 'api-addr', /api-addr/],
      [['-data-dir', ''], 'data-dir', /nowhere/],
    ];
    for (const [argv, flag, msg] of cases) {
      assert.throws(
        () => cfg(argv),
        (err: unknown) => {
          assert.ok(err instanceof FlagError, `${argv.join(' ')}: ${err}`);
          assert.equal(err.flag, flag, argv.join(' '));
          assert.match(err.message, msg, argv.join(' '));
          assert.ok(!err.message.includes('\n'), 'one line');
          return true;
        },
      );
    }
    assert.throws(() => cfg([], { HADES_ADDR: 'nope' }), /-addr/);
  });

  it('-h is HelpRequested; usage names every flag with its default', () => {
    assert.throws(() => cfg(['-h']), HelpRequested);
    assert.throws(() => cfg(['standalone', '--help']), HelpRequested);
    const u = hadesUsage();
    for (const flag of [
      'addr',
      'domain',
      'machines',
      'data-dir',
      'metrics-port',
      'nameservers',
      'ip-monitor-path',
      'read_timeout, -rtimeout',
      'rcache',
      'rcache_ttl',
      'version',
      'logtostderr',
      'log_dir',
      'v',
      'select',
      'all-down',
      'workers',
      'prefix',
      'ttl',
      'tls-key',
      'tls-pem',
      'ca-cert',
    ])
      assert.match(u, new RegExp(`^  -${flag}\\b`, 'm'), flag);
    assert.match(u, /default "127\.0\.0\.1:53"/);
    assert.match(u, /default "hades\.local\."/);
    assert.match(u, /default "sticky"/);
    assert.match(u, /\$HADES_READ_TIMEOUT/);
    assert.match(hadesUsage(true), /default "127\.0\.0\.1:5353"/);
  });

  it('forwarding and metrics flags: -nameservers none, -stub, -metrics-addr, -log-queries', () => {
    const d = cfg(['-addr', '10.1.2.3:53']);
    assert.equal(d.forwarding, true);
    assert.equal(d.stubs.size, 0);
    assert.equal(d.metricsHost, '10.1.2.3', 'the host of -addr by default');
    assert.equal(d.logQueries, false);
    const c = cfg([
      '-nameservers',
      'NONE',
      '-stub',
      'Corp.Example=10.0.0.1,10.0.0.2:5353;lab.example.=[fd00::53]',
      '-metrics-addr',
      '[::1]',
      '-log-queries',
    ]);
    assert.equal(c.forwarding, false);
    assert.deepEqual(c.nameservers, []);
    // a link-local resolver keeps its zone, as in -stub and resolv.conf
    assert.deepEqual(cfg(['-nameservers', 'fe80::1%eth0']).nameservers, [
      { host: 'fe80::1%eth0', port: 53, family: 6 },
    ]);
    assert.deepEqual(
      [...c.stubs].map(([zone, list]) => [zone, list.map(formatHostPort)]),
      [
        ['corp.example.', ['10.0.0.1:53', '10.0.0.2:5353']],
        ['lab.example.', ['[fd00::53]:53']],
      ],
    );
    assert.equal(c.metricsHost, '::1');
    assert.equal(c.logQueries, true);
    assert.equal(cfg(['-addr', ':53']).metricsHost, '0.0.0.0');
    const bad: [string[], RegExp][] = [
      [['-stub', 'corp.example=dns.google'], /^-stub corp\.example\.: nameserver "dns\.google"/],
      [['-stub', '10.0.0.1'], /^-stub: "10\.0\.0\.1" comes before any zone=/],
      [['-stub', 'a..b=10.0.0.1'], /^-stub: stub zone "a\.\.b" has an empty label/],
      [['-metrics-addr', '127.0.0.1:9153'], /^-metrics-addr: "127\.0\.0\.1:9153" is not an IP address/],
    ];
    for (const [argv, msg] of bad) {
      const err = (() => {
        try {
          cfg(argv);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      assert.ok(err instanceof FlagError, argv.join(' '));
      assert.match(err.message, msg);
    }
  });
});
