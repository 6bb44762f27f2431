/** Waiting for outcomes in tests: poll a condition with a generous deadline, never assert time. */

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `cond` every `everyMs` (20) until it is true; throws `timed out waiting for <what>` (plus
 * the condition's last error, and `diag()` when given) after `timeoutMs`. A condition that throws
 * is not met yet: a server that does not listen yet refuses the connection the check makes.
 */
export async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
  { everyMs = 20, diag }: { everyMs?: number; diag?: () => string } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await cond()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last === undefined ? '' : ` (last: ${(last as Error)?.message ?? String(last)})`;
      throw new Error(`timed out waiting for ${what}${why}${diag ? `\n${diag()}` : ''}`);
    }
    await sleep(everyMs);
  }
}
