/**
 * sim/ — the deterministic mesh simulator. `simulate(scenario)` runs the real NodeCore in virtual
 * time and returns a `timemesh.sim.report/1` report; the same seed gives the same report byte for byte.
 *
 * @example
 *   const scenario = await loadScenarioFile('sim/scenarios/01-lan-100.yaml');
 *   const report = simulate(scenario);
 *   console.log(formatSummary(report));
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
