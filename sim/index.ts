/**
 * sim/ — the mesh simulator, with two engines.
 *
 * The deterministic one: `simulate(scenario)` runs the real NodeCore in virtual time and returns a
 * `timemesh.sim.report/1` report; the same seed gives the same report byte for byte.
 *
 * The libp2p one: `runLibp2pSim(options)` runs real libp2p nodes with the daemon's TimeService in this
 * process on 127.0.0.1, in real time, and returns a `timemesh.sim-libp2p.report/1` report. It is not
 * deterministic. Importing this index loads libp2p; code that wants the deterministic engine alone
 * imports sim/simulator.ts (as the CLI does, loading the libp2p engine only for `--engine libp2p`).
 *
 * @example
 *   const scenario = await loadScenarioFile('sim/scenarios/01-lan-100.yaml');
 *   const report = simulate(scenario);
 *   console.log(formatSummary(report));
 *
 *   const live = await runLibp2pSim({ nodes: 5, anchors: 2, durationS: 20, seed: '1' });
 *   console.log(formatLibp2pSummary(live));
 */
export { simulate, simulateForInspection, SIM_EPOCH_NS } from './simulator.ts';
export type { SimProgress } from './simulator.ts';
export {
  evaluateChecks,
  getMetric,
  loadScenarioFile,
  mergeScenarioRaw,
  parseDuration,
  readScenarioFile,
  REPORT_METRICS,
  resolveScenario,
  ScenarioError,
} from './scenario.ts';
export { renderHtmlReport } from './htmlReport.ts';
export { formatSummary } from './summary.ts';
export { createProgress } from './progress.ts';
export { REPORT_SCHEMA } from './reportTypes.ts';
export type { AccuracyFigures, CheckResult, HonestFigures, NodeTrace, SimReport } from './reportTypes.ts';
export { ANCHOR_KINDS, ATTACK_KINDS } from './scenarioTypes.ts';
export type { AttackKind, AnchorModel, Scenario } from './scenarioTypes.ts';
export {
  formatLibp2pSummary,
  LIBP2P_CORE_DEFAULTS,
  LIBP2P_DURATION_S_MAX,
  LIBP2P_NODES_MAX,
  LIBP2P_OSCILLATOR_DEFAULTS,
  LIBP2P_REPORT_SCHEMA,
  runLibp2pSim,
} from './libp2pEngine.ts';
export type {
  Libp2pFigures,
  Libp2pNodeSummary,
  Libp2pOscillatorModel,
  Libp2pSimOptions,
  Libp2pSimReport,
} from './libp2pEngine.ts';
