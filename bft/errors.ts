/**
 * The one error bft/ throws: a programmer's mistake in the arguments (NaN, an inverted interval, a
 * negative delay, a fault tolerance that is not a non-negative integer). Bad data from a peer never
 * reaches this folder as an exception: it is filtered out, or it loses the vote, before or inside
 * the combination step.
 */
import { TimemeshError } from '../hlc/errors.ts';

/** Stable code of every error thrown by bft/. */
export const BFT_ARGUMENT_ERROR_CODE = 'TM_ERR_BFT_ARGUMENT';

export class BftArgumentError extends TimemeshError {
  constructor(message: string) {
    super(BFT_ARGUMENT_ERROR_CODE, message);
  }
}
