/**
 * Scraping a program's metrics port in tests: GET /metrics on 127.0.0.1, parsed with the
 * project's parser (src/metrics/prom-text.ts), asserting the exposition is strict (every family
 * typed, no series twice).
 */
import assert from 'node:assert/strict';
import { type PromText, parsePromText, seriesValue, strictErrors } from '../../src/metrics/prom-text.js';

export async function scrape(port: number): Promise<PromText> {
  const r = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(r.status, 200);
  const p = parsePromText(await r.text());
  assert.deepEqual(strictErrors(p), []);
  return p;
}

/** One series' value (exact label set), 0 when absent. */
export function metricValue(p: PromText, name: string, labels: Record<string, string> = {}): number {
  return seriesValue(p, name, labels) ?? 0;
}
