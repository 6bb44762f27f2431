/** Placeholder replaced by the probes branch (issue 13). */
import type { RunProbe } from './probe.js';

export const runProbe: RunProbe = async () => ({ ok: false, reason: 'not built', class: 'error' });
