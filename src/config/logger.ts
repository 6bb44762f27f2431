/**
 * Structured logs (pino): one JSON line per event, secrets redacted.
 *
 * Seed flags: `-logtostderr` (log to stderr instead of files), `-log_dir` (files directory:
 * `<log_dir>/<program>.log`), `-v` (verbosity: 0 info, 1+ debug, as glog's V levels).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type DestinationStream, type Logger as PinoLogger, pino } from 'pino';

/** pino's logger: the programs also call fatal, flush and child on it. */
export type { PinoLogger };

/** Field paths never written to a log: tokens, keys, passwords, auth headers. */
export const REDACT_PATHS = [
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.token',
  'headers.authorization',
  'req.headers.token',
  'req.headers.authorization',
  'password',
  '*.password',
  'key',
  'tls.key',
  'hadesAuth',
  '*.hadesAuth',
];

export interface LogOptions {
  program: string;
  logtostderr?: boolean;
  logDir?: string;
  verbosity?: number;
  /** For tests: where lines go. */
  destination?: DestinationStream;
}

export function createLogger(opts: LogOptions): PinoLogger {
  const level = (opts.verbosity ?? 0) > 0 ? 'debug' : 'info';
  let dest: DestinationStream;
  if (opts.destination) dest = opts.destination;
  else if (opts.logDir && !opts.logtostderr) {
    mkdirSync(opts.logDir, { recursive: true });
    dest = pino.destination({ dest: join(opts.logDir, `${opts.program}.log`), sync: false, mkdir: true });
  } else dest = pino.destination({ dest: 2, sync: false });
  return pino(
    {
      name: opts.program,
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
    },
    dest,
  );
}

/** A logger that drops everything (library defaults, tests). */
export const silentLogger: PinoLogger = pino({ level: 'silent' });
