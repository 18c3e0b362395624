/**
 * The README's references cannot drift from the code: the CLI reference is `timemesh help` verbatim,
 * the configuration reference has a row for every setting with its file key, flag and environment
 * variable (and none that does not exist), and the API reference lists every route the API serves.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { buildApi } from '../../node/api.ts';
import type { ApiSource } from '../../node/api.ts';
import { NODE_SETTINGS } from '../../node/config.ts';
import { TIMEMESH_BIN } from './daemonProcess.ts';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

function section(title: string): string {
  const start = README.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `README has a "## ${title}" section`);
  const end = README.indexOf('\n## ', start + 1);
  return README.slice(start, end < 0 ? undefined : end);
}

describe('README references', () => {
  it('the CLI reference is `timemesh help`, verbatim', () => {
    const help = execFileSync(process.execPath, [TIMEMESH_BIN, 'help'], { encoding: 'utf8' }).trimEnd();
    const block = /```\n([\s\S]*?)\n```/.exec(section('CLI reference'))?.[1];
    assert.ok(block !== undefined, 'a fenced block in the CLI reference');
    assert.equal(block, help);
  });

  it('the configuration reference has one row per setting: key, flag and variable', () => {
    const rows = [
      ...section('Configuration reference').matchAll(/^\| `([^`]+)` \| `--([^`]+)` \| `([^`]+)` \|/gm),
    ];
    const documented = rows.map((m) => `${m[1]} --${m[2]} ${m[3]}`);
    const actual = NODE_SETTINGS.map((s) => `${s.path.join('.')} --${s.flag} ${s.env}`);
    assert.deepEqual(documented, actual);
  });

  it('the API reference lists every route the API serves', async () => {
    const app = buildApi({} as ApiSource, { peerId: 'me', multiaddrs: () => [], ready: () => true });
    await app.ready();
    const tree = app.printRoutes({ commonPrefix: false });
    await app.close();
    // The tree is "├── segment (GET, HEAD)" lines, four columns deeper per level.
    const routes: string[] = [];
    const stack: string[] = [];
    for (const line of tree.split('\n')) {
      const m = /^([│ ]*)[├└]── (\S+) \(([A-Z, ]+)\)/.exec(line);
      if (m === null) continue;
      const depth = m[1]!.length / 4;
      stack.length = depth;
      stack.push(m[2]!);
      const path = stack.join('');
      for (const method of m[3]!.split(', ')) if (method !== 'HEAD') routes.push(`${method} ${path}`);
    }
    const api = section('API reference');
    const documented = new Set([...api.matchAll(/`((?:GET|POST) \/[^`?\s]*)/g)].map((m) => m[1]!));
    const served = routes.filter((r) => !r.includes('/assets/'));
    assert.ok(served.length >= 9, `routes seen: ${served.join(', ')}`);
    const missing = served.filter((r) => !documented.has(r));
    assert.deepEqual(missing, [], `served but not in the README's API reference: ${missing.join(', ')}`);
  });
});
