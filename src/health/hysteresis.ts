/**
 * Hysteresis of one address: DOWN after `fall` consecutive failed rounds, UP after `rise`
 * consecutive passed ones (haproxy's fall/rise). A round against the current state resets the
 * other streak, so a flapping target does not change state.
 */
export type Health = 'UP' | 'DOWN';

export class Hysteresis {
  readonly fall: number;
  readonly rise: number;
  #state: Health | undefined;
  #passes = 0;
  #fails = 0;

  /** `initial`: the state stored now (undefined: none yet; the first full streak decides). */
  constructor(fall: number, rise: number, initial?: Health) {
    if (!(fall >= 1 && rise >= 1)) throw new RangeError('fall and rise must be >= 1');
    this.fall = fall;
    this.rise = rise;
    this.#state = initial;
  }

  get state(): Health | undefined {
    return this.#state;
  }

  /** Sets the state without a streak (the stored status changed behind us). */
  reset(state: Health | undefined): void {
    this.#state = state;
    this.#passes = 0;
    this.#fails = 0;
  }

  /** One round's outcome; returns the new state when it changed, else undefined. */
  observe(passed: boolean): Health | undefined {
    if (passed) {
      this.#fails = 0;
      this.#passes++;
      if (this.#state !== 'UP' && this.#passes >= this.rise) {
        this.#state = 'UP';
        return 'UP';
      }
    } else {
      this.#passes = 0;
      this.#fails++;
      if (this.#state !== 'DOWN' && this.#fails >= this.fall) {
        this.#state = 'DOWN';
        return 'DOWN';
      }
    }
    return undefined;
  }
}
