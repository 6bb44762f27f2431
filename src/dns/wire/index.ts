/** The DNS wire codec: hot-path query parser and response writer, general decoder/encoder. */
export * from './constants.js';
export * from './decode.js';
export * from './encode.js';
export * from './errors.js';
export * from './names.js';
export * from './query.js';
export * from './writer.js';
