/** Prometheus metrics and the /metrics, /health, /ready port (see README.md). */
export * from './cluster.js';
export * from './collected.js';
export * from './hades-metrics.js';
export * from './http.js';
export * from './kubeapi-metrics.js';
export * from './program.js';
export * from './prom-text.js';
