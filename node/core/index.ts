/**
 * node/core/ — the node's decision logic as a sans-IO state machine (ntpd-rs' ntp-proto shape).
 * Drivers (the daemon, the simulator) call `handle*` with explicit raw-oscillator times and carry out
 * the returned actions; nothing here reads a clock, sets a timer or touches a socket.
 *
 * @example
 *   const core = new NodeCore({ nodeId: 'n1', pollPeers: 8 }, { rng });
 *   core.handlePeerDiscovered('n2');
 *   for (const action of core.handleTick(localNs)) carryOut(action);
 */
export { DEFAULT_CORE_CONFIG, resolveCoreConfig } from './config.ts';
export type { NodeCoreConfig } from './config.ts';
export { evaluateExchange } from './exchange.ts';
export type { ExchangeEvaluation } from './exchange.ts';
export { NodeCore } from './nodeCore.ts';
export type { NodeCoreOptions, NodeSnapshot } from './nodeCore.ts';
export { fillSelection } from './peerSelection.ts';
export { DEFAULT_SYSTEM_CLOCK_POLICY, SystemClockPolicy } from './systemClockPolicy.ts';
export type {
  SystemClockAction,
  SystemClockInput,
  SystemClockPolicyConfig,
  SystemClockSlew,
} from './systemClockPolicy.ts';
export type { Candidate } from './peerSelection.ts';
export type {
  Announcement,
  ClockClaim,
  CompletedExchange,
  CoreCounters,
  ExchangeRejection,
  NodeAction,
  ReferenceSample,
  Rng,
  RoundOutcome,
  ServedSample,
  ServedTime,
  SourceSnapshot,
} from './types.ts';
