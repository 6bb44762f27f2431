/** Hades release version, printed by every program's `-version`. */
export const VERSION = '0.1.0';
