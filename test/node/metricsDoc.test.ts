/**
 * The README's "Metrics reference" and the metrics the node registers name the same `timemesh_*`
 * families, so the reference cannot drift from the code. Every registering function runs against a
 * fresh registry with stand-in sources: registration reads nothing (values are read at scrape time),
 * so the stand-ins are never called here.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { buildApi } from '../../node/api.ts';
import type { ApiSource } from '../../node/api.ts';
import { registerSystemClockMetrics } from '../../node/systemClockMetrics.ts';
import { registerGpsMetrics } from '../../refclock/gpsMetrics.ts';
import { registerNtpMetrics } from '../../refclock/ntpMetrics.ts';
import { registerPpsMetrics } from '../../refclock/ppsMetrics.ts';
import { registerTsqMetrics } from '../../refclock/tsqMetrics.ts';

const README = new URL('../../README.md', import.meta.url);

/** The metric names in the first column of the README's metrics table. */
function documentedNames(): string[] {
  const text = readFileSync(README, 'utf8');
  const start = text.indexOf('## Metrics reference');
  assert.ok(start >= 0, 'README has a "## Metrics reference" section');
  const section = text.slice(start, text.indexOf('\n## ', start + 1));
  return [...section.matchAll(/^\| `(timemesh_[a-z_]+)` \|/gm)].map((m) => m[1]!);
}

async function registeredNames(): Promise<string[]> {
  const registry = new Registry();
  const stand = {} as never;
  const app = buildApi({} as ApiSource, {
    peerId: 'me',
    multiaddrs: () => [],
    ready: () => true,
    registry,
  });
  registerNtpMetrics(registry, { client: stand, server: stand });
  registerTsqMetrics(registry, { clients: [stand], server: stand });
  registerGpsMetrics(registry, stand);
  registerPpsMetrics(registry, stand);
  registerSystemClockMetrics(registry, stand);
  await app.close();
  return registry
    .getMetricsAsArray()
    .map((m) => m.name)
    .filter((n) => n.startsWith('timemesh_'));
}

describe('metrics reference (README)', () => {
  it('documents every registered timemesh_* family, and nothing else', async () => {
    const documented = documentedNames();
    const registered = await registeredNames();
    assert.ok(registered.length >= 40, `expected the full set of families, got ${registered.length}`);
    const missing = registered.filter((n) => !documented.includes(n));
    const stale = documented.filter((n) => !registered.includes(n));
    assert.deepEqual(missing, [], `registered but not in the README: ${missing.join(', ')}`);
    assert.deepEqual(stale, [], `in the README but not registered: ${stale.join(', ')}`);
    assert.equal(new Set(documented).size, documented.length, 'no family is listed twice');
  });

  it('follows the naming conventions: _total only on counters, units in the name', async () => {
    const registry = new Registry();
    buildApi({} as ApiSource, { peerId: 'me', multiaddrs: () => [], ready: () => true, registry });
    for (const m of registry.getMetricsAsArray()) {
      if (!m.name.startsWith('timemesh_')) continue;
      const type = (m as unknown as { type: string }).type;
      assert.equal(m.name.endsWith('_total'), type === 'counter', `${m.name} is a ${type}`);
      assert.doesNotMatch(m.name, /_(ppm|ms|us|ns)$/, `${m.name}: use base units (_seconds, _ratio)`);
    }
  });
});
