/**
 * Tests of the persisted state: the bigint round trip, merging partial saves, the HLC mark that never
 * goes down, atomic writes (the previous state survives a failure, or a SIGKILL, between write and
 * rename; a reader never sees a partial file), and corrupt files (a clear error, the file left in
 * place, unless the store resets).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { HLC_MAX_WALL_NS } from '../../hlc/hlc.ts';
import {
  KNOWN_PEERS_MAX,
  STATE_CORRUPT_ERROR_CODE,
  STATE_ERROR_CODE,
  STATE_FILE_NAME,
  StateStore,
  StateStoreError,
  parseState,
  serializeState,
  writeFileAtomic,
} from '../../node/stateStore.ts';

const PEER = '/ip4/192.0.2.10/tcp/7071/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA';
// Above 2^53, where a JSON number would already have lost the last digits.
const BIG_NS = 1_800_000_000_123_456_789n;

let dir = '';
const dirs: string[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'timemesh-state-'));
  dirs.push(dir);
});
afterEach(() => {
  dir = '';
});
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const statePath = (): string => join(dir, STATE_FILE_NAME);

async function tempFiles(): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.endsWith('.tmp'));
}

/** Asserts `promise` rejects with a StateStoreError of `code` whose message matches every pattern. */
async function rejectsWith(promise: Promise<unknown>, code: string, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof StateStoreError, `expected a StateStoreError, got ${String(error)}`);
    assert.equal(error.code, code);
    for (const p of patterns) assert.match(error.message, p);
    return true;
  });
}

describe('load and save', () => {
  it('starts empty when there is no state file, and writes nothing by loading', async () => {
    assert.deepEqual(await new StateStore(dir).load(), {});
    assert.deepEqual(await readdir(dir), []);
  });

  it('round-trips a bigint HLC mark exactly, as a decimal string in the file', async () => {
    const state = { hlcHighWaterNs: BIG_NS, frequencyPpm: -3.25, announcementSeq: 42, knownPeers: [PEER] };
    assert.deepEqual(await new StateStore(dir).save(state), state);
    const text = await readFile(statePath(), 'utf8');
    assert.match(text, /"hlcHighWaterNs": "1800000000123456789"/);
    assert.equal(JSON.parse(text).version, 1);
    const loaded = await new StateStore(dir).load();
    assert.deepEqual(loaded, state);
    assert.equal(loaded.hlcHighWaterNs, BIG_NS);
    await new StateStore(dir).save({ hlcHighWaterNs: HLC_MAX_WALL_NS });
    assert.equal((await new StateStore(dir).load()).hlcHighWaterNs, 2n ** 64n - 1n);
  });

  it('creates the file with mode 0600', async () => {
    await new StateStore(dir).save({ announcementSeq: 1 });
    assert.equal((await stat(statePath())).mode & 0o777, 0o600);
  });

  it('creates the data dir if it is missing', async () => {
    const nested = join(dir, 'a', 'b');
    await new StateStore(nested).save({ announcementSeq: 1 });
    assert.deepEqual(await new StateStore(nested).load(), { announcementSeq: 1 });
  });

  it('merges a partial save over the state on disk, even without an explicit load', async () => {
    await new StateStore(dir).save({ hlcHighWaterNs: BIG_NS, frequencyPpm: 1.5 });
    const store = new StateStore(dir);
    const merged = await store.save({ knownPeers: [PEER], frequencyPpm: 2 });
    assert.deepEqual(merged, { hlcHighWaterNs: BIG_NS, frequencyPpm: 2, knownPeers: [PEER] });
    assert.deepEqual(await new StateStore(dir).load(), merged);
  });

  it('keeps the higher HLC mark when a lower one is saved', async () => {
    const store = new StateStore(dir);
    await store.save({ hlcHighWaterNs: BIG_NS });
    const after = await store.save({ hlcHighWaterNs: BIG_NS - 1n, announcementSeq: 7 });
    assert.equal(after.hlcHighWaterNs, BIG_NS);
    assert.equal(after.announcementSeq, 7);
    assert.equal((await new StateStore(dir).load()).hlcHighWaterNs, BIG_NS);
    await store.save({ hlcHighWaterNs: BIG_NS + 5n });
    assert.equal((await new StateStore(dir).load()).hlcHighWaterNs, BIG_NS + 5n);
  });

  it('serializes concurrent saves so that none loses another one’s fields', async () => {
    const store = new StateStore(dir);
    await Promise.all([
      store.save({ hlcHighWaterNs: 5n }),
      store.save({ frequencyPpm: 0.5 }),
      store.save({ knownPeers: [PEER] }),
      store.save({ announcementSeq: 9 }),
    ]);
    assert.deepEqual(await new StateStore(dir).load(), {
      hlcHighWaterNs: 5n,
      frequencyPpm: 0.5,
      knownPeers: [PEER],
      announcementSeq: 9,
    });
  });

  it('keeps the first KNOWN_PEERS_MAX known peers', async () => {
    const peers = Array.from(
      { length: KNOWN_PEERS_MAX + 10 },
      (_, i) => `/ip4/10.0.${i >> 8}.${i & 255}/tcp/1`,
    );
    const saved = await new StateStore(dir).save({ knownPeers: peers });
    assert.equal(saved.knownPeers?.length, KNOWN_PEERS_MAX);
    assert.deepEqual((await new StateStore(dir).load()).knownPeers, peers.slice(0, KNOWN_PEERS_MAX));
  });

  it('returns copies: changing a returned state does not change the store', async () => {
    const store = new StateStore(dir);
    const saved = await store.save({ knownPeers: [PEER] });
    saved.knownPeers?.push('/ip4/10.0.0.1/tcp/1');
    assert.deepEqual((await store.load()).knownPeers, [PEER]);
  });

  const invalid: [string, Record<string, unknown>, RegExp][] = [
    ['a negative HLC mark', { hlcHighWaterNs: -1n }, /state hlcHighWaterNs: expected a bigint/],
    ['an HLC mark beyond 2^64−1', { hlcHighWaterNs: 2n ** 64n }, /hlcHighWaterNs/],
    ['an HLC mark as a number', { hlcHighWaterNs: 5 }, /hlcHighWaterNs/],
    [
      'a NaN frequency',
      { frequencyPpm: Number.NaN },
      /state frequencyPpm: expected a finite number, got NaN/,
    ],
    [
      'a fractional sequence number',
      { announcementSeq: 1.5 },
      /state announcementSeq: expected an integer ≥ 0/,
    ],
    ['a known peer that is not a multiaddr', { knownPeers: ['192.0.2.1:7071'] }, /state knownPeers/],
  ];
  for (const [name, partial, pattern] of invalid) {
    it(`refuses to save ${name}, writing nothing`, async () => {
      const store = new StateStore(dir);
      await store.save({ announcementSeq: 1 });
      const before = await readFile(statePath(), 'utf8');
      await rejectsWith(store.save(partial as never), STATE_ERROR_CODE, pattern);
      assert.equal(await readFile(statePath(), 'utf8'), before);
    });
  }
});

describe('atomic writes', () => {
  it('leaves the previous state intact when the write fails before the rename', async () => {
    await new StateStore(dir).save({ announcementSeq: 1, knownPeers: [PEER] });
    const before = await readFile(statePath(), 'utf8');
    const failing = new StateStore(dir, {
      beforeRename: () => {
        throw new Error('simulated failure between write and rename');
      },
    });
    await rejectsWith(
      failing.save({ announcementSeq: 2 }),
      STATE_ERROR_CODE,
      /cannot write the state file .*state\.json: simulated failure/,
    );
    assert.equal(await readFile(statePath(), 'utf8'), before);
    assert.deepEqual(await tempFiles(), [], 'the temp file is removed');
    assert.equal((await new StateStore(dir).load()).announcementSeq, 1);
  });

  it('has the complete new state in the temp file and the complete old one in place before the rename', async () => {
    await new StateStore(dir).save({ announcementSeq: 1 });
    let seen: { inPlace: number | undefined; inTemp: number | undefined } | null = null;
    const store = new StateStore(dir, {
      beforeRename: async (temp) => {
        seen = {
          inPlace: parseState(await readFile(statePath(), 'utf8')).announcementSeq,
          inTemp: parseState(await readFile(temp, 'utf8')).announcementSeq,
        };
        assert.equal((await stat(temp)).mode & 0o777, 0o600);
      },
    });
    await store.save({ announcementSeq: 2 });
    assert.deepEqual(seen, { inPlace: 1, inTemp: 2 });
    assert.equal((await new StateStore(dir).load()).announcementSeq, 2);
  });

  it('survives a SIGKILL between write and rename, and the next load removes the stray temp file', async () => {
    await new StateStore(dir).save({ announcementSeq: 1, hlcHighWaterNs: BIG_NS });
    const before = await readFile(statePath(), 'utf8');
    const script = join(dir, 'crash.mts');
    const storeModule = new URL('../../node/stateStore.ts', import.meta.url).href;
    await writeFile(
      script,
      [
        `import { StateStore } from ${JSON.stringify(storeModule)};`,
        `const store = new StateStore(${JSON.stringify(dir)}, {`,
        `  beforeRename: () => { process.kill(process.pid, 'SIGKILL'); },`,
        `});`,
        `await store.save({ announcementSeq: 2, hlcHighWaterNs: ${BIG_NS + 1000n}n });`,
        `console.log('survived the kill');`,
      ].join('\n'),
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const signal = await new Promise<NodeJS.Signals | null>((done) =>
      child.on('exit', (_code, sig) => done(sig)),
    );
    assert.equal(signal, 'SIGKILL', `child output: ${output}`);
    assert.equal(await readFile(statePath(), 'utf8'), before);
    assert.equal((await tempFiles()).length, 1, 'the killed save left its temp file');
    const loaded = await new StateStore(dir).load();
    assert.deepEqual(loaded, { announcementSeq: 1, hlcHighWaterNs: BIG_NS });
    assert.deepEqual(await tempFiles(), []);
  });

  it('never lets a reader see a partially written state file', async () => {
    const store = new StateStore(dir);
    await store.save({ announcementSeq: 0 });
    const peers = Array.from({ length: KNOWN_PEERS_MAX }, (_, i) =>
      PEER.replace('192.0.2.10', `10.1.${i >> 8}.${i & 255}`),
    );
    let writing = true;
    let reads = 0;
    const reader = (async () => {
      let lastSeq = 0;
      while (writing) {
        const state = parseState(await readFile(statePath(), 'utf8')); // throws on a partial file
        assert.ok((state.announcementSeq ?? -1) >= lastSeq, 'the state never goes back');
        lastSeq = state.announcementSeq ?? -1;
        reads++;
      }
    })();
    for (let seq = 1; seq <= 40; seq++) {
      // Every other save is large, so a torn write would show as a truncated JSON document.
      await store.save({ announcementSeq: seq, knownPeers: seq % 2 === 0 ? peers : [PEER] });
    }
    writing = false;
    await reader;
    assert.ok(reads > 0, 'the reader ran');
    assert.equal((await new StateStore(dir).load()).announcementSeq, 40);
  });

  it('with overwrite: false, refuses to replace an existing file and cleans up', async () => {
    const path = join(dir, 'once');
    await writeFileAtomic(path, 'first', { overwrite: false });
    await assert.rejects(writeFileAtomic(path, 'second', { overwrite: false }), { code: 'EEXIST' });
    assert.equal(await readFile(path, 'utf8'), 'first');
    assert.deepEqual(await tempFiles(), []);
    await writeFileAtomic(path, 'third');
    assert.equal(await readFile(path, 'utf8'), 'third');
  });
});

describe('corrupt state files', () => {
  const corrupt: [string, string, RegExp][] = [
    ['invalid JSON', '{"version": 1, "announcementSeq": ', /invalid JSON/],
    ['an empty file', '', /the file is empty/],
    [
      'a JSON number where the HLC mark string belongs',
      '{"version":1,"hlcHighWaterNs":1800000000123456789}',
      /hlcHighWaterNs: expected a decimal string/,
    ],
    [
      'a negative HLC mark',
      '{"version":1,"hlcHighWaterNs":"-5"}',
      /hlcHighWaterNs: expected a decimal string/,
    ],
    ['an HLC mark beyond 2^64−1', '{"version":1,"hlcHighWaterNs":"18446744073709551616"}', /hlcHighWaterNs/],
    [
      'a fractional sequence number',
      '{"version":1,"announcementSeq":1.5}',
      /announcementSeq: expected an integer ≥ 0/,
    ],
    ['a bad known peer', '{"version":1,"knownPeers":["nope"]}', /knownPeers\[0\]: expected a multiaddr/],
    ['an unknown key', '{"version":1,"hlcMark":"5"}', /unknown key\(s\) hlcMark/],
    ['a missing version', '{"announcementSeq":1}', /version: expected 1/],
    ['a newer format', '{"version":2,"announcementSeq":1}', /format version 2, written by a newer timemesh/],
    ['a list', '[1,2]', /the file: expected a JSON object/],
  ];
  for (const [name, text, problem] of corrupt) {
    it(`refuses ${name}, says what to do, and leaves the file in place`, async () => {
      await writeFile(statePath(), text);
      await rejectsWith(
        new StateStore(dir).load(),
        STATE_CORRUPT_ERROR_CODE,
        new RegExp(`^state file ${statePath().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not usable: `),
        problem,
        /left in place/,
        /--reset-state/,
      );
      assert.equal(await readFile(statePath(), 'utf8'), text);
    });
  }

  it('refuses to save over a corrupt file it has not loaded', async () => {
    await writeFile(statePath(), 'garbage');
    await rejectsWith(
      new StateStore(dir).save({ announcementSeq: 1 }),
      STATE_CORRUPT_ERROR_CODE,
      /invalid JSON/,
    );
    assert.equal(await readFile(statePath(), 'utf8'), 'garbage');
  });

  it('with reset, moves a corrupt file aside and starts empty', async () => {
    await writeFile(statePath(), 'garbage');
    const store = new StateStore(dir, { reset: true });
    assert.deepEqual(await store.load(), {});
    const aside = store.movedAside;
    assert.ok(aside !== null);
    assert.match(aside, /state\.json\.reset-\d{8}T\d{6}Z$/);
    assert.equal(await readFile(aside, 'utf8'), 'garbage');
    await store.save({ announcementSeq: 3 });
    assert.deepEqual(await new StateStore(dir).load(), { announcementSeq: 3 });
    // The reset applies once: a second load reads what was saved since.
    assert.deepEqual(await store.load(), { announcementSeq: 3 });
  });

  it('with reset, also sets a valid state aside, and with no file moves nothing', async () => {
    await new StateStore(dir).save({ hlcHighWaterNs: BIG_NS });
    const store = new StateStore(dir, { reset: true });
    assert.deepEqual(await store.save({ announcementSeq: 1 }), { announcementSeq: 1 });
    assert.ok(store.movedAside !== null);
    assert.equal(parseState(await readFile(store.movedAside, 'utf8')).hlcHighWaterNs, BIG_NS);
    const fresh = await mkdtemp(join(tmpdir(), 'timemesh-state-'));
    dirs.push(fresh);
    const empty = new StateStore(fresh, { reset: true });
    assert.deepEqual(await empty.load(), {});
    assert.equal(empty.movedAside, null);
  });
});

describe('format', () => {
  it('writes keys in a fixed order, bigints as strings, with a trailing newline', () => {
    const text = serializeState({ knownPeers: [], announcementSeq: 1, hlcHighWaterNs: 2n, frequencyPpm: 0 });
    assert.equal(
      text,
      '{\n  "version": 1,\n  "hlcHighWaterNs": "2",\n  "frequencyPpm": 0,\n  "announcementSeq": 1,\n  "knownPeers": []\n}\n',
    );
    assert.deepEqual(parseState(text), {
      hlcHighWaterNs: 2n,
      frequencyPpm: 0,
      announcementSeq: 1,
      knownPeers: [],
    });
  });
});
