import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'timemesh.js');
const run = (args: string[]): ReturnType<typeof spawnSync> =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env } });

describe('timemesh keygen, id and start flag errors', () => {
  it('keygen writes a 0600 key whose peer id `id` prints, and refuses to overwrite it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'timemesh-cli-'));
    const made = run(['keygen', '--data-dir', dir]);
    assert.equal(made.status, 0, String(made.stderr));
    const peerId = String(made.stdout).split('\n')[0]!;
    assert.match(peerId, /^12D3KooW/);
    assert.equal((await stat(join(dir, 'identity.key'))).mode & 0o777, 0o600);
    const shown = run(['id', '--data-dir', dir]);
    assert.equal(String(shown.stdout).trim(), peerId);
    const again = run(['keygen', '--data-dir', dir]);
    assert.equal(again.status, 2);
    assert.match(String(again.stderr), /refusing to overwrite/);
  });

  it('start rejects a bad flag value with exit 2 and names the flag', () => {
    const r = run(['start', '--api', 'nope']);
    assert.equal(r.status, 2);
    assert.match(String(r.stderr), /--api: expected HOST:PORT/);
  });

  it('time reports clearly when no node answers', () => {
    const r = run(['time', '--api', '127.0.0.1:9']);
    assert.notEqual(r.status, 0);
    assert.match(String(r.stderr), /no timemesh node answers at http:\/\/127\.0\.0\.1:9/);
  });
});
