/** The forwarder: non-local names to upstream resolvers (see README.md). */
export { type ExternalAnswer, externalAnswer, mergeExternal } from './external.js';
export * from './forwarder.js';
export { LATENCY_BUCKETS, Upstream, type UpstreamStats } from './upstream.js';
