/**
 * Byzantine behaviour. An attacker runs this instead of the honest core: it knows true time exactly
 * (the worst case), answers sample requests with the lie its attack calls for, claims a tiny error
 * bound, anchored status and stratum 1 so honest nodes weigh it heavily, and publishes announcements
 * that make it look like the best peer to select. Only hlc-push lies about HLCs: the others send
 * honest HLCs so that the HLC guard cannot catch them and the time-combination rule has to.
 */
import type { AttackModel } from './scenarioTypes.ts';
import type { SimRng } from './rng.ts';

export const ATTACKER_ERROR_NS = 1_000;

export interface AttackAnswer {
  /** Added to true time in T2 and T3. */
  lieNs: number;
  /** Extra time the response is held after T3 is stamped (the delay attack). */
  holdNs: number;
  /** Added to true time in the HLC. */
  hlcAheadNs: number;
}

/** The answer to a request from `requester` at virtual time tNs; null = no answer (silent). */
export function attackAnswer(
  m: AttackModel,
  tNs: number,
  requester: number,
  rng: SimRng,
): AttackAnswer | null {
  switch (m.kind) {
    case 'silent':
      return null;
    case 'constant':
      return { lieNs: m.lieNs, holdNs: 0, hlcAheadNs: 0 };
    case 'two-faced':
      return { lieNs: requester % 2 === 0 ? m.lieNs : -m.lieNs, holdNs: 0, hlcAheadNs: 0 };
    case 'random':
      return { lieNs: rng.uniform(-m.lieNs, m.lieNs), holdNs: 0, hlcAheadNs: 0 };
    case 'frog-boil':
      return { lieNs: (m.driftNsPerS * tNs) / 1e9, holdNs: 0, hlcAheadNs: 0 };
    case 'delay':
      return { lieNs: 0, holdNs: m.holdNs, hlcAheadNs: 0 };
    case 'hlc-push':
      return { lieNs: 0, holdNs: 0, hlcAheadNs: m.hlcAheadNs };
    case 'none':
      return { lieNs: 0, holdNs: 0, hlcAheadNs: 0 };
  }
}

/** What the attacker claims its offset is at tNs (for plots); null when it does not answer. */
export function attackClaimNs(m: AttackModel, tNs: number): number | null {
  switch (m.kind) {
    case 'silent':
      return null;
    case 'constant':
    case 'two-faced':
    case 'random':
      return m.lieNs;
    case 'frog-boil':
      return (m.driftNsPerS * tNs) / 1e9;
    case 'delay':
      return m.holdNs / 2;
    default:
      return 0;
  }
}
