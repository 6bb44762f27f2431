/**
 * Opens the store a program was configured for: etcd when endpoints are given (the seed's
 * `-machines` / `etcd-server` / `etcd-machine`), otherwise the embedded store in a data dir.
 *
 * Each backend is imported only when it is chosen: a process on etcd does not load lmdb (and its
 * buffers), one on the embedded store does not load etcd3, gRPC and their protobuf definitions
 * (about 12 MB of heap).
 */
import type { Logger } from '../common/logger.js';
import type { EtcdTlsFiles } from './etcd/etcd.js';
import type { Store } from './types.js';

export interface StoreConfig {
  /** etcd endpoints; empty → embedded store. */
  machines: readonly string[];
  /** TLS files for etcd; defaults to ETCD_CACERT / ETCD_TLSKEY / ETCD_TLSPEM. */
  tls?: EtcdTlsFiles;
  /** Directory of the embedded store. */
  dataDir: string;
  logger?: Logger;
}

export async function openStore(cfg: StoreConfig): Promise<Store> {
  if (cfg.machines.length > 0) {
    const { openEtcdStore, tlsFromEnv } = await import('./etcd/etcd.js');
    const tls = cfg.tls && (cfg.tls.ca || cfg.tls.key || cfg.tls.cert) ? cfg.tls : tlsFromEnv();
    return openEtcdStore({ endpoints: [...cfg.machines], tls, logger: cfg.logger });
  }
  const { openEmbeddedStore } = await import('./embedded/embedded.js');
  return openEmbeddedStore({ dir: cfg.dataDir, logger: cfg.logger });
}
