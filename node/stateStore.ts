/**
 * What the daemon keeps across restarts, in `<dataDir>/state.json`: the HLC high-water mark (so a
 * restarted node never reissues or goes back on an HLC timestamp), the frequency estimate (faster
 * re-convergence), the announcement sequence number (so peers' replay checks accept the restarted
 * node's announcements) and known peers (so it can rejoin without its bootstrap peers).
 *
 * Invariants:
 * - Writes are atomic: a temp file in the same directory is written, fsynced, renamed over the state
 *   file, and the directory fsynced (`writeFileAtomic`). A reader, or a node restarting after a crash
 *   or power loss at any instant, sees either the previous complete state or the new one, never a
 *   mix, never a truncated file. A crash can leave a stray temp file; `load` removes it.
 * - A resolved `save` is durable. The HLC relies on that: it never issues beyond a mark until the mark
 *   is confirmed on disk.
 * - The HLC mark only goes up: saving a lower mark keeps the stored one, since a lower mark on disk
 *   would let the node reissue timestamps after a restart.
 * - Saves are serialized in call order and each merges its fields over the current state, so
 *   concurrent partial saves (the HLC mark from one place, known peers from another) never lose
 *   each other's fields.
 * - The file is validated on load. A corrupt file is an operator's problem, never silently
 *   discarded (it holds the HLC mark): `load` throws a StateStoreError that says what is wrong and
 *   leaves the file in place. With the `reset` option (`timemesh start --reset-state`) the node starts
 *   from empty state instead, after moving the old file aside to `state.json.reset-<UTC time>`, so
 *   nothing is deleted. HAZARD: after a reset the HLC restarts from the clock; timestamps issued
 *   before the reset are not guaranteed to be below new ones if the clock is now behind them.
 *
 * Format: JSON, `version` 1, bigints as decimal strings (JSON numbers lose integers above 2^53):
 *   { "version": 1, "hlcHighWaterNs": "1800000000123456789", "frequencyPpm": -3.2,
 *     "announcementSeq": 4242, "knownPeers": ["/ip4/192.0.2.10/tcp/7071/p2p/12D3KooW…"] }
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { multiaddr } from '@multiformats/multiaddr';
import { z } from 'zod';
import { TimemeshError } from '../hlc/errors.ts';
import { HLC_MAX_WALL_NS } from '../hlc/hlc.ts';

/** A state file that cannot be used as it is (unparseable, invalid, from a newer timemesh). */
export const STATE_CORRUPT_ERROR_CODE = 'TM_ERR_STATE_CORRUPT';
/** Anything else: the state cannot be read or written, or a save was given an invalid value. */
export const STATE_ERROR_CODE = 'TM_ERR_STATE';

export class StateStoreError extends TimemeshError {
  constructor(
    code: typeof STATE_CORRUPT_ERROR_CODE | typeof STATE_ERROR_CODE,
    message: string,
    cause?: unknown,
  ) {
    super(code, message, cause === undefined ? undefined : { cause });
  }
}

export const STATE_FILE_NAME = 'state.json';
export const STATE_FORMAT_VERSION = 1;
/** Known peers kept; `save` keeps the first this many, so callers put the most useful first. */
export const KNOWN_PEERS_MAX = 256;
const MULTIADDR_CHARS_MAX = 1024;
const STATE_FILE_BYTES_MAX = 1 << 20;

export interface PersistedState {
  hlcHighWaterNs?: bigint;
  frequencyPpm?: number;
  announcementSeq?: number;
  /** Multiaddrs of peers seen, to redial on the next start. */
  knownPeers?: string[];
}

// ---------------------------------------------------------------------------------------------------
// Atomic file writes

export interface AtomicWriteOptions {
  /** File mode of the new file (default 0o600: state and keys are nobody else's business). */
  mode?: number;
  /**
   * Replace an existing file (default true). With false the file is put in place with link(2), which
   * fails with EEXIST rather than replace anything, even when two processes race.
   */
  overwrite?: boolean;
  /**
   * Test seam: runs after the temp file is written and fsynced and before it is moved into place, so
   * a test can fail or kill the process at the one instant where atomicity matters.
   */
  beforeRename?: (tempPath: string) => void | Promise<void>;
}

/** The temp-file name writeFileAtomic uses for `path`: hidden, in the same directory, unique. */
function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

function isTempOf(fileName: string, targetName: string): boolean {
  const prefix = `.${targetName}.`;
  return fileName.startsWith(prefix) && /^\d+\.[0-9a-f]{12}\.tmp$/.test(fileName.slice(prefix.length));
}

/**
 * Writes `data` to `path` so that `path` holds either its previous content or all of `data`, at every
 * instant and after a crash: write a temp file in the same directory (same file system, so the
 * rename is atomic), fsync it, rename it over `path`, fsync the directory (so the rename itself
 * survives a power loss). On failure the temp file is removed and `path` is untouched.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const mode = options.mode ?? 0o600;
  const temp = tempPathFor(path);
  const file = await open(temp, 'wx', mode);
  let placed = false;
  try {
    try {
      await file.writeFile(data);
      // open()'s mode is filtered by the umask; chmod makes it exact.
      await file.chmod(mode);
      await file.sync();
    } finally {
      await file.close();
    }
    await options.beforeRename?.(temp);
    if (options.overwrite ?? true) {
      await rename(temp, path);
      placed = true;
    } else {
      await link(temp, path);
    }
    await syncDirectory(dirname(path));
  } finally {
    if (!placed) await unlink(temp).catch(() => undefined);
  }
}

/**
 * Removes the temp files that writeFileAtomic left for `<dir>/<fileName>` when a process died between
 * writing and renaming. Temp files of this process are kept: they may belong to a write in flight.
 */
export async function removeStrayTempFiles(dir: string, fileName: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return; // No directory yet: nothing to clean. A real problem shows on the access that follows.
  }
  const ours = `.${fileName}.${process.pid}.`;
  for (const name of names) {
    if (isTempOf(name, fileName) && !name.startsWith(ours)) {
      await unlink(join(dir, name)).catch(() => undefined);
    }
  }
}

async function syncDirectory(dir: string): Promise<void> {
  // Windows cannot open a directory for fsync; NTFS journals the rename itself.
  if (process.platform === 'win32') return;
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

// ---------------------------------------------------------------------------------------------------
// The file format

const DECIMAL_NS = /^(?:0|[1-9]\d{0,19})$/;

const stateFileSchema = z.strictObject(
  {
    version: z.literal(STATE_FORMAT_VERSION, { error: `expected ${STATE_FORMAT_VERSION}` }),
    hlcHighWaterNs: z
      .string({ error: 'expected a decimal string of integer nanoseconds' })
      .refine((s) => DECIMAL_NS.test(s) && BigInt(s) <= HLC_MAX_WALL_NS, {
        error: 'expected a decimal string of integer nanoseconds (0 to 2^64−1)',
      })
      .transform((s) => BigInt(s))
      .optional(),
    frequencyPpm: z
      .number({ error: 'expected a finite number' })
      .refine(Number.isFinite, { error: 'expected a finite number' })
      .optional(),
    announcementSeq: z
      .number({ error: 'expected an integer ≥ 0' })
      .refine((n) => Number.isSafeInteger(n) && n >= 0, { error: 'expected an integer ≥ 0' })
      .optional(),
    knownPeers: z
      .array(
        z
          .string({ error: 'expected a multiaddr' })
          .refine((s) => s.length <= MULTIADDR_CHARS_MAX && multiaddrProblem(s) === null, {
            error: 'expected a multiaddr',
          }),
        { error: 'expected a list of multiaddrs' },
      )
      .max(KNOWN_PEERS_MAX, { error: `expected at most ${KNOWN_PEERS_MAX} multiaddrs` })
      .optional(),
  },
  { error: 'expected a JSON object' },
);

function multiaddrProblem(text: string): string | null {
  try {
    multiaddr(text);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

/** The file's text for a state: fixed key order, bigints as decimal strings, one trailing newline. */
export function serializeState(state: PersistedState): string {
  const out: Record<string, unknown> = { version: STATE_FORMAT_VERSION };
  if (state.hlcHighWaterNs !== undefined) out['hlcHighWaterNs'] = state.hlcHighWaterNs.toString();
  if (state.frequencyPpm !== undefined) out['frequencyPpm'] = state.frequencyPpm;
  if (state.announcementSeq !== undefined) out['announcementSeq'] = state.announcementSeq;
  if (state.knownPeers !== undefined) out['knownPeers'] = state.knownPeers;
  return `${JSON.stringify(out, null, 2)}\n`;
}

/** Parses and validates a state file's text; throws a short description of the first problems. */
export function parseState(text: string): PersistedState {
  let raw: unknown;
  try {
    raw = JSON.parse(text) as unknown;
  } catch (error) {
    const problem = text.trim() === '' ? 'the file is empty' : `invalid JSON: ${(error as Error).message}`;
    throw new Error(problem, { cause: error });
  }
  const version = (raw as { version?: unknown } | null)?.version;
  if (typeof version === 'number' && version > STATE_FORMAT_VERSION) {
    throw new Error(
      `it is format version ${version}, written by a newer timemesh (this one reads version ${STATE_FORMAT_VERSION})`,
    );
  }
  const parsed = stateFileSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 3).map((issue) => {
      if (issue.code === 'unrecognized_keys') return `unknown key(s) ${issue.keys.join(', ')}`;
      const where = issue.path
        .map((seg) => (typeof seg === 'number' ? `[${seg}]` : `.${String(seg)}`))
        .join('');
      return `${where.replace(/^\./, '') || 'the file'}: ${issue.message}`;
    });
    throw new Error(problems.join('; '));
  }
  const state: PersistedState = {};
  const data = parsed.data;
  if (data.hlcHighWaterNs !== undefined) state.hlcHighWaterNs = data.hlcHighWaterNs;
  if (data.frequencyPpm !== undefined) state.frequencyPpm = data.frequencyPpm;
  if (data.announcementSeq !== undefined) state.announcementSeq = data.announcementSeq;
  if (data.knownPeers !== undefined) state.knownPeers = [...data.knownPeers];
  return state;
}

// ---------------------------------------------------------------------------------------------------
// The store

export interface StateStoreOptions {
  /** `--reset-state`: start from empty state, moving any existing state file aside (not deleting it). */
  reset?: boolean;
  /** Test seam, passed to writeFileAtomic. */
  beforeRename?: AtomicWriteOptions['beforeRename'];
}

export class StateStore {
  readonly path: string;
  private readonly dir: string;
  private readonly options: StateStoreOptions;
  private current: PersistedState | null = null;
  private resetDone = false;
  private movedAsidePath: string | null = null;
  /** Every load and save runs after the previous one finished (successfully or not). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(dataDir: string, options: StateStoreOptions = {}) {
    this.dir = dataDir;
    this.path = join(dataDir, STATE_FILE_NAME);
    this.options = options;
  }

  /** Where a reset moved the previous state file, or null (nothing moved yet, or no file existed). */
  get movedAside(): string | null {
    return this.movedAsidePath;
  }

  /**
   * Reads the state file: {} when there is none (first start). Throws a StateStoreError with code
   * TM_ERR_STATE_CORRUPT, leaving the file in place, when it is invalid, unless the store was made
   * with `reset`. Also removes temp files that a crash during a save left behind.
   */
  load(): Promise<PersistedState> {
    return this.enqueue(async () => copyState(await this.loadNow()));
  }

  /**
   * Merges `partial` over the current state (loading it first if need be) and writes it atomically.
   * Resolves once the new state is durable, with the state as written. Undefined fields keep their
   * stored value; a lower hlcHighWaterNs keeps the stored one; knownPeers beyond KNOWN_PEERS_MAX are
   * dropped from the end. An invalid value (negative, NaN, not a multiaddr) is a bug in the caller
   * and throws a StateStoreError with code TM_ERR_STATE, writing nothing.
   */
  save(partial: PersistedState): Promise<PersistedState> {
    try {
      checkPartial(partial);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const copy = copyState(partial);
    return this.enqueue(async () => {
      const base = this.current ?? (await this.loadNow());
      const next: PersistedState = { ...base };
      if (copy.hlcHighWaterNs !== undefined) {
        const stored = base.hlcHighWaterNs;
        next.hlcHighWaterNs =
          stored !== undefined && stored > copy.hlcHighWaterNs ? stored : copy.hlcHighWaterNs;
      }
      if (copy.frequencyPpm !== undefined) next.frequencyPpm = copy.frequencyPpm;
      if (copy.announcementSeq !== undefined) next.announcementSeq = copy.announcementSeq;
      if (copy.knownPeers !== undefined) next.knownPeers = copy.knownPeers.slice(0, KNOWN_PEERS_MAX);
      try {
        await mkdir(this.dir, { recursive: true, mode: 0o700 });
        await writeFileAtomic(this.path, serializeState(next), {
          mode: 0o600,
          ...(this.options.beforeRename !== undefined ? { beforeRename: this.options.beforeRename } : {}),
        });
      } catch (error) {
        throw new StateStoreError(
          STATE_ERROR_CODE,
          `cannot write the state file ${this.path}: ${(error as Error).message}`,
          error,
        );
      }
      this.current = next;
      return copyState(next);
    });
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async loadNow(): Promise<PersistedState> {
    await removeStrayTempFiles(this.dir, STATE_FILE_NAME);
    if (this.options.reset === true && !this.resetDone) {
      this.resetDone = true;
      await this.moveAside();
      this.current = {};
      return this.current;
    }
    let text: string;
    try {
      const handle = await open(this.path, 'r');
      try {
        const { size } = await handle.stat();
        if (size > STATE_FILE_BYTES_MAX) {
          throw new StateStoreError(
            STATE_CORRUPT_ERROR_CODE,
            this.corruptMessage(`it is ${size} bytes, far more than timemesh ever writes`),
          );
        }
        text = await handle.readFile('utf8');
      } finally {
        await handle.close();
      }
    } catch (error) {
      if (error instanceof StateStoreError) throw error;
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        this.current = {};
        return this.current;
      }
      throw new StateStoreError(
        STATE_ERROR_CODE,
        `cannot read the state file ${this.path}: ${(error as Error).message}`,
        error,
      );
    }
    try {
      this.current = parseState(text);
    } catch (error) {
      throw new StateStoreError(
        STATE_CORRUPT_ERROR_CODE,
        this.corruptMessage((error as Error).message),
        error,
      );
    }
    return this.current;
  }

  private corruptMessage(problem: string): string {
    return (
      `state file ${this.path} is not usable: ${problem}. It was left in place. ` +
      `Fix or remove it, or start once with --reset-state to move it aside and start from empty state ` +
      `(the HLC then restarts from the clock and the frequency estimate is relearned).`
    );
  }

  private async moveAside(): Promise<void> {
    const stamp = new Date()
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z');
    const target = `${this.path}.reset-${stamp}`;
    try {
      await rename(this.path, target);
      this.movedAsidePath = target;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new StateStoreError(
        STATE_ERROR_CODE,
        `cannot move the state file ${this.path} aside for --reset-state: ${(error as Error).message}`,
        error,
      );
    }
  }
}

function copyState(state: PersistedState): PersistedState {
  const out: PersistedState = { ...state };
  if (state.knownPeers !== undefined) out.knownPeers = [...state.knownPeers];
  return out;
}

function checkPartial(p: PersistedState): void {
  const bad = (field: string, want: string, got: unknown): never => {
    throw new StateStoreError(STATE_ERROR_CODE, `state ${field}: expected ${want}, got ${String(got)}`);
  };
  const h = p.hlcHighWaterNs;
  if (h !== undefined && (typeof h !== 'bigint' || h < 0n || h > HLC_MAX_WALL_NS)) {
    bad('hlcHighWaterNs', 'a bigint from 0 to 2^64−1', h);
  }
  const f = p.frequencyPpm;
  if (f !== undefined && (typeof f !== 'number' || !Number.isFinite(f)))
    bad('frequencyPpm', 'a finite number', f);
  const s = p.announcementSeq;
  if (s !== undefined && (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 0)) {
    bad('announcementSeq', 'an integer ≥ 0', s);
  }
  if (p.knownPeers !== undefined) {
    if (!Array.isArray(p.knownPeers)) bad('knownPeers', 'a list of multiaddrs', p.knownPeers);
    for (const addr of p.knownPeers.slice(0, KNOWN_PEERS_MAX)) {
      if (typeof addr !== 'string' || addr.length > MULTIADDR_CHARS_MAX || multiaddrProblem(addr) !== null) {
        bad('knownPeers', 'multiaddrs', JSON.stringify(addr));
      }
    }
  }
}
