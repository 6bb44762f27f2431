/**
 * RecordService.listGrouped on the embedded store: health and topology keys under the record
 * prefix are not records (they would read as names under `status.monitor.` and `topology.`).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { openEmbeddedStore } from '../store/embedded/embedded.js';
import { RecordService } from './service.js';

describe('RecordService.listGrouped', () => {
  for (const topologyPath of [undefined, '/hades/zones'])
    it(`leaves out the monitor and topology paths (${topologyPath ?? 'default'})`, async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'hades-service-'));
      const store = await openEmbeddedStore({ dir });
      try {
        const tp = topologyPath ?? '/hades/topology';
        await store.put('/hades/local/hades/web/a', '{"host":"10.0.0.1","zone":"z1"}');
        await store.put('/hades/monitor/status/10.0.0.1', '{"status":"UP"}');
        await store.put(`${tp}/z1`, '{"cidrs":["10.1.0.0/16"]}');
        const s = new RecordService({
          store,
          prefix: '/hades',
          monitorPath: '/hades/monitor/status/',
          topologyPath,
        });
        assert.deepEqual([...(await s.listGrouped()).keys()], ['a.web.hades.local.']);
      } finally {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
});
