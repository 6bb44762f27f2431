/**
 * A warning that a client can cause at will (a handler bug hit by one query, a send error) is
 * logged at most once per interval, with how many were suppressed: a flood of bad packets must
 * not become a flood of log lines.
 */
import type { Logger } from '../common/logger.js';

export class NoisyLog {
  private last = 0;
  private suppressed = 0;
  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 1000,
  ) {}
  warn(obj: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    if (now - this.last < this.intervalMs) {
      this.suppressed++;
      return;
    }
    this.last = now;
    if (this.suppressed > 0) obj.suppressed = this.suppressed;
    this.suppressed = 0;
    this.log.warn(obj, msg);
  }
}

/** An error's message for a log line, whatever was thrown. */
export function errorText(err: unknown): string {
  return (err as Error)?.message ?? String(err);
}
