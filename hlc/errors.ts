/**
 * The root of timemesh's typed errors. Every error the project throws on purpose is a TimemeshError
 * with a stable `code` (TM_ERR_*), so callers and tests match on codes, never on message text.
 * Exceptions are for operator mistakes and bugs; bad input from a peer is returned as a value
 * (a rejection with a reason) and counted, not thrown.
 *
 * It lives in hlc/ because hlc/ is the lowest layer: every other folder may import it.
 */
export class TimemeshError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}
