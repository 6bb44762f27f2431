/** The one error type for bad record, health or IP data. */
export class RecordError extends Error {
  readonly code = 'EBADRECORD';
  /**
   * The bad field: a record field (`port`, `host`, ...), `key` for a key outside the prefix,
   * `ip` for a bad address argument, or `''` for the value as a whole (not JSON, not an object),
   * as a JSON Pointer names the whole document with ''.
   */
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.name = 'RecordError';
    this.field = field;
  }
}

/** Short JSON rendering of a bad value for error messages. */
export function show(v: unknown): string {
  let s: string;
  try {
    s = v === undefined ? 'undefined' : JSON.stringify(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
