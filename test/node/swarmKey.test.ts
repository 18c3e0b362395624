import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SwarmKeyError, generateSwarmKeyFile, parseSwarmKey, readSwarmKey } from '../../node/swarmKey.ts';

const HEX = 'dffb7e3135399a8b1612b2aaca1c36a3a8ac2cd0cca51ceeb2ced87d308cac6d';

describe('swarm key files', () => {
  const dirs: string[] = [];
  after(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
  const tempDir = async (): Promise<string> => {
    const d = await mkdtemp(join(tmpdir(), 'tm-swarmkey-'));
    dirs.push(d);
    return d;
  };

  it('parses the Kubo/@libp2p/pnet format and normalises it (CRLF, upper-case hex, no final newline)', () => {
    const expected = `/key/swarm/psk/1.0.0/\n/base16/\n${HEX}\n`;
    const out = (text: string): string => new TextDecoder().decode(parseSwarmKey(text, 'k'));
    assert.equal(out(expected), expected);
    assert.equal(out(`/key/swarm/psk/1.0.0/\r\n/base16/\r\n${HEX.toUpperCase()}`), expected);
  });

  for (const [name, text, message] of [
    ['empty', '', /0 lines/],
    ['wrong header', `/key/swarm/psk/2.0.0/\n/base16/\n${HEX}\n`, /line 1 is "\/key\/swarm\/psk\/2\.0\.0\/"/],
    ['base64', `/key/swarm/psk/1.0.0/\n/base64/\n${HEX}\n`, /only the base16 encoding is supported/],
    ['short key', `/key/swarm/psk/1.0.0/\n/base16/\n${HEX.slice(2)}\n`, /exactly 64 hex digits, got 62/],
    ['not hex', `/key/swarm/psk/1.0.0/\n/base16/\n${'g'.repeat(64)}\n`, /exactly 64 hex digits/],
    ['extra line', `/key/swarm/psk/1.0.0/\n/base16/\n${HEX}\nmore\n`, /4 lines/],
  ] as const) {
    it(`rejects a key file that is ${name}, naming the problem and what to do`, () => {
      assert.throws(
        () => parseSwarmKey(text, '/etc/timemesh/swarm.key'),
        (e: unknown) =>
          e instanceof SwarmKeyError &&
          e.code === 'TM_ERR_SWARM_KEY' &&
          message.test(e.message) &&
          e.message.includes('/etc/timemesh/swarm.key') &&
          e.message.includes('timemesh keygen --swarm-key'),
      );
    });
  }

  it('generates a 0600 key that reads back, and never overwrites one without force', async () => {
    const path = join(await tempDir(), 'sub', 'swarm.key');
    await generateSwarmKeyFile(path);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const first = await readFile(path, 'utf8');
    assert.equal(new TextDecoder().decode(await readSwarmKey(path)), first);
    await assert.rejects(generateSwarmKeyFile(path), /already exists; refusing to overwrite/);
    assert.equal(await readFile(path, 'utf8'), first, 'the refused call left the key as it was');
    await generateSwarmKeyFile(path, { force: true });
    assert.notEqual(await readFile(path, 'utf8'), first, 'force writes a new random key');
  });

  it('refuses a key others can read, and a missing one, saying what to do', async () => {
    const dir = await tempDir();
    const path = join(dir, 'swarm.key');
    await writeFile(path, `/key/swarm/psk/1.0.0/\n/base16/\n${HEX}\n`, { mode: 0o644 });
    await chmod(path, 0o644);
    await assert.rejects(readSwarmKey(path), (e: unknown) => {
      assert.ok(e instanceof SwarmKeyError);
      assert.match(e.message, /accessible by group or others \(mode 0644\).*chmod 600/);
      return true;
    });
    await assert.rejects(readSwarmKey(join(dir, 'absent.key')), /no swarm key at .*absent\.key: create one/);
  });
});
