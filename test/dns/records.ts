/**
 * The record set the integration tests load: every record type of issue 3, negative-answer
 * material, Hades 1.0.1-format records (the seed's nslookup session) and one health state.
 * Records are data only: nothing ever sends traffic to these addresses.
 */
import { leafKey, serializeRecordValue } from '../../src/records/record.js';
import type { RecordValue } from '../../src/records/types.js';
import type { Store } from '../../src/store/types.js';

/** The zones hades serves in these tests. */
export const ZONES = 'hades.local.,10.in-addr.arpa.,8.b.d.0.1.0.0.2.ip6.arpa.';

/** [key, value] pairs; values already JSON. */
export function testRecords(): [string, string][] {
  const out: [string, string][] = [];
  const one = (key: string, v: RecordValue | string): void => {
    out.push([key, typeof v === 'string' ? v : serializeRecordValue(v)]);
  };
  /** Several records under one name, each at its FNV-1a leaf (as Hades writes them). */
  const many = (nameKey: string, vs: RecordValue[]): void => {
    for (const v of vs) {
      const value = serializeRecordValue(v);
      out.push([leafKey(nameKey, value), value]);
    }
  };
  const z = '/hades/local/hades';
  one(`${z}/web`, { host: '10.0.0.1', ttl: 60 });
  one(`${z}/web6`, { host: '2001:db8::1', ttl: 60 });
  many(`${z}/multi`, [{ host: '10.0.1.1' }, { host: '10.0.1.2' }, { host: '10.0.1.3' }]);
  one('/hades/monitor/status/10.0.1.2', '{"status":"DOWN"}');
  one(`${z}/alias`, { host: 'web.hades.local' });
  one(`${z}/alias2`, { host: 'alias.hades.local' });
  one(`${z}/loop1`, { host: 'loop2.hades.local' });
  one(`${z}/loop2`, { host: 'loop1.hades.local' });
  one(`${z}/ext`, { host: 'www.example.com' });
  one(`${z}/svc/_tcp/_http/x1`, { host: 'web.hades.local', port: 80, priority: 10, weight: 60 });
  one(`${z}/svc/_tcp/_http/x2`, { host: '10.0.0.5', port: 8080, priority: 20, weight: 40 });
  one(`${z}/txt`, { text: 'hello world' });
  one(`${z}/long`, { text: 'a'.repeat(400) });
  many(`${z}/big`, [
    { text: `1${'b'.repeat(299)}` },
    { text: `2${'b'.repeat(299)}` },
    { text: `3${'b'.repeat(299)}` },
  ]);
  one(`${z}/mail`, { host: 'mx1.hades.local', priority: 10, mail: true });
  one(`${z}/mx1`, { host: '10.0.0.25' });
  one('/hades/arpa/in-addr/10/0/0/1', { host: 'web.hades.local' });
  one(`/hades/arpa/ip6/${'2001:0db8:0000:0000:0000:0000:0000:0001'.replace(/:/g, '').split('').join('/')}`, {
    host: 'web6.hades.local',
  });
  one(`${z}/dns/ns/ns1`, { host: '10.0.0.53' });
  one(`${z}/dns/apex`, { host: '10.0.0.100' });
  // Hades 1.0.1 format (kube2hades and the seed's API session)
  const svc = `${z}/svc/default`;
  many(`${svc}/qiyf-nginx-5`, [{ host: '192.168.19.113', priority: 10, weight: 10, ttl: 30, type: 'A' }]);
  many(`${svc}/qiyf-nginx-9`, [{ host: '192.168.19.120', priority: 10, weight: 10, ttl: 30, type: 'A' }]);
  many(`${z}/user/cctv1`, [
    { host: '192.168.10.1', type: 'A' },
    { host: '192.168.10.2', type: 'A' },
    { host: '192.168.10.3', type: 'A' },
  ]);
  one(`${z}/user/tv1`, { host: 'cctv1.user.hades.local', type: 'cname' });
  return out;
}

export async function loadRecords(store: Store): Promise<void> {
  for (const [k, v] of testRecords()) await store.put(k, v);
}
