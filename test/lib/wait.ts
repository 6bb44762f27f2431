/** Waiting for outcomes in tests: poll a condition with a generous deadline, never assert time. */

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `cond` every `everyMs` (20) until it is true; throws `timed out waiting for <what>` (plus
 * `diag()`, when given) after `timeoutMs`.
 */
export async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
  { everyMs = 20, diag }: { everyMs?: number; diag?: () => string } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${diag ? `\n${diag()}` : ''}`);
    await sleep(everyMs);
  }
}
