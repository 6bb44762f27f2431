/**
 * The one error type the wire codec throws. The decoder throws it for any malformed input,
 * the encoders for values that cannot be put on the wire; nothing else is ever thrown for
 * bad data (programming errors such as writing sections out of order throw plain Errors).
 */
export type WireErrorCode =
  /** The message ends inside a header, question, record or field. */
  | 'SHORT'
  /** A label length byte uses the reserved 0x40/0x80 forms. */
  | 'BADLABEL'
  /** A compression pointer points forward, at itself, or outside the message. */
  | 'BADPTR'
  /** A name is longer than 255 octets on the wire or has more than 127 labels. */
  | 'NAMELEN'
  /** RDATA does not match its type's layout (wrong length, leftover bytes). */
  | 'RDATA'
  /** A presentation-form name cannot be encoded (empty label, label > 63, bad escape). */
  | 'BADNAME'
  /** An address string or byte array is not a valid IPv4/IPv6 address. */
  | 'BADADDR'
  /** A numeric field or a string is out of range for its wire field. */
  | 'BADVALUE'
  /** The message would exceed 65535 octets. */
  | 'TOOBIG';

export class WireError extends Error {
  readonly code: WireErrorCode;
  /** Offset in the message where the problem was found, or -1. */
  readonly offset: number;
  constructor(code: WireErrorCode, message: string, offset = -1) {
    super(offset >= 0 ? `${message} (at offset ${offset})` : message);
    this.name = 'WireError';
    this.code = code;
    this.offset = offset;
  }
}
