// Shared assertions for the bft/ tests.
import assert from 'node:assert/strict';
import { TimemeshError } from '../../hlc/errors.ts';

/** Asserts that `fn` throws a TimemeshError with code TM_ERR_BFT_ARGUMENT. */
export function assertArgumentError(fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => e instanceof TimemeshError && e.code === 'TM_ERR_BFT_ARGUMENT');
}
