/** Public surface of src/catalog: the watch-fed record index and health overlay. */
export {
  Catalog,
  type CatalogOptions,
  type CatalogStats,
  type ChangeListener,
  type WatchState,
} from './catalog.js';
export { HealthOverlay } from './health-overlay.js';
export { IndexNode, RecordIndex } from './record-index.js';
