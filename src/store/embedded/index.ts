export { EmbeddedStore, type EmbeddedStoreOptions, openEmbeddedStore } from './embedded.js';
