/**
 * Opens the store a program was configured for: etcd when endpoints are given (the seed's
 * `-machines` / `etcd-server` / `etcd-machine`), otherwise the embedded store in a data dir.
 */
import { openEmbeddedStore } from './embedded/embedded.js';
import { type EtcdTlsFiles, openEtcdStore, tlsFromEnv } from './etcd/etcd.js';
import type { Store } from './types.js';

export interface StoreConfig {
  /** etcd endpoints; empty → embedded store. */
  machines: readonly string[];
  /** TLS files for etcd; defaults to ETCD_CACERT / ETCD_TLSKEY / ETCD_TLSPEM. */
  tls?: EtcdTlsFiles;
  /** Directory of the embedded store. */
  dataDir: string;
  logger?: { warn(obj: object, msg: string): void };
}

export function openStore(cfg: StoreConfig): Promise<Store> {
  if (cfg.machines.length > 0) {
    const tls = cfg.tls && Object.values(cfg.tls).some(Boolean) ? cfg.tls : tlsFromEnv();
    return openEtcdStore({ endpoints: [...cfg.machines], tls, logger: cfg.logger });
  }
  return openEmbeddedStore({ dir: cfg.dataDir, logger: cfg.logger });
}
