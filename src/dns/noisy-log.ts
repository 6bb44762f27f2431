/**
 * A warning that a client can cause at will (a handler bug hit by one query, a send error) is
 * logged at most once per interval, with how many were suppressed: a flood of bad packets must
 * not become a flood of log lines.
 */

/** The subset of a pino logger the DNS server uses. */
export interface ServerLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const NOOP_LOGGER: ServerLogger = { debug() {}, info() {}, warn() {}, error() {} };

export class NoisyLog {
  private last = 0;
  private suppressed = 0;
  constructor(
    private readonly log: ServerLogger,
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
