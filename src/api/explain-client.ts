/**
 * `hades-apicmd -explain`: asks hades's metrics port `/explain` (src/dns/explain.ts) and prints
 * the answer for a person.
 */
import type { Explanation } from '../common/explanation.js';
import { ClientError } from './client.js';

/** GET `<server>/explain?…`: the explanation, or ClientError with the server's message. */
export async function fetchExplain(
  server: string,
  q: { name: string; type: string; client: string; ecs: string },
): Promise<Explanation> {
  let base: string;
  try {
    base = new URL(/^https?:\/\//i.test(server) ? server : `http://${server}`).origin;
  } catch {
    throw new ClientError(`-server "${server}" is not host:port or a URL`);
  }
  const params = new URLSearchParams({ name: q.name, type: q.type, client: q.client });
  if (q.ecs !== '') params.set('ecs', q.ecs);
  let res: Response;
  try {
    res = await fetch(`${base}/explain?${params}`, { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new ClientError(`-server ${server}: ${cause}`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ClientError(`-server ${server}: HTTP ${res.status}: ${text.trim().slice(0, 200)}`);
  }
  if (res.status !== 200) {
    const e = body as { error?: string };
    throw new ClientError(`-server ${server}: HTTP ${res.status}: ${e.error ?? text.trim()}`);
  }
  return body as Explanation;
}

/** The explanation as lines for a person. */
export function formatExplain(e: Explanation): string {
  const who = e.client.identity === 'ECS subnet' ? `ECS ${e.client.ecs}` : 'its source address';
  const lines = [
    `${e.question.name} ${e.question.type} for client ${e.client.address} (identity: ${who}; zone: ${e.client.zone ?? 'none'})`,
    `answer: ${e.rcode}`,
  ];
  for (const r of e.answer) lines.push(`  ${r.name}  ${r.ttl}  ${r.type}  ${r.data}`);
  if (e.name !== e.question.name) lines.push(`the addresses of: ${e.name}`);
  lines.push(`policy: ${e.policy}, all-down: ${e.allDown}`);
  if (e.addresses.length > 0) {
    const rows = [['', 'ADDRESS', 'HEALTH', 'DRAINED', 'ZONE', 'TIER', 'WEIGHT']];
    for (const a of e.addresses)
      rows.push([
        a.chosen ? '→' : a.candidate ? '·' : '',
        a.address,
        a.health,
        a.drained ? 'yes' : '-',
        a.zone ?? '-',
        String(a.tier),
        String(a.weight),
      ]);
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows)
      lines.push(
        `  ${r
          .map((c, i) => c.padEnd(widths[i]))
          .join('  ')
          .trimEnd()}`,
      );
    lines.push('  (→ chosen, · candidate)');
  }
  if (e.candidates.length > 0)
    lines.push(
      `candidates: ${e.candidates.join(', ')}${e.tier === null ? '' : ` (tier ${e.tier}`}${
        e.candidateZone === null ? '' : `, zone ${e.candidateZone}`
      }${e.tier === null ? '' : ')'}`,
    );
  lines.push(`rule: ${e.rule}`);
  return `${lines.join('\n')}\n`;
}
