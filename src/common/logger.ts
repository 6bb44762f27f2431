/**
 * The logging every component takes: the part of pino they call, so a pino logger fits and a
 * test can hand in four functions.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Drops everything: the default where a logger is optional. */
export const NOOP_LOGGER: Logger = { debug() {}, info() {}, warn() {}, error() {} };
