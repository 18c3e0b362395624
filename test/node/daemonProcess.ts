/**
 * `timemesh start` as a child process, for the real-process tests and the benchmark scripts: spawns
 * bin/timemesh.js with its own data dir and waits for the lines the daemon prints once it serves
 * (`listening <multiaddr>` for 127.0.0.1 and `api <url>`). Logs go to stderr at warn level; the text is
 * kept so that a failed start can say why.
 *
 * A daemon that does not start in time is killed before the promise rejects, so a failed start leaves
 * no process behind; stopping the ones that started is the caller's job (SIGTERM stops one gracefully).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const TIMEMESH_BIN = join(import.meta.dirname, '..', '..', 'bin', 'timemesh.js');

export interface DaemonProcess {
  child: ChildProcess;
  /** The API's base URL, e.g. http://127.0.0.1:41234. */
  api: string;
  /** The 127.0.0.1 TCP listen multiaddr with /p2p/<peer id>. */
  multiaddr: string;
  dataDir: string;
  /** The arguments after `start --data-dir DIR`, to restart the same node. */
  args: string[];
}

export interface StartDaemonOptions {
  /** Give up (and kill the process) after this long; default 30 s. */
  timeoutMs?: number;
  /** Extra environment; TIMEMESH_LOG_LEVEL defaults to warn. */
  env?: Record<string, string>;
}

export async function startDaemon(
  args: string[],
  dataDir: string,
  options: StartDaemonOptions = {},
): Promise<DaemonProcess> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const child = spawn(process.execPath, [TIMEMESH_BIN, 'start', '--data-dir', dataDir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TIMEMESH_LOG_LEVEL: 'warn', ...options.env },
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node did not start in ${timeoutMs / 1000} s: ${out}\n${err}`));
    }, timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const api = /^api (\S+)$/m.exec(out)?.[1];
      const multiaddr = /^listening (\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\S+)$/m.exec(out)?.[1];
      if (api !== undefined && multiaddr !== undefined) {
        clearTimeout(timer);
        resolve({ child, api, multiaddr, dataDir, args });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`node exited with ${code}: ${err}`));
    });
  });
}

/** GET a node's JSON (2 s timeout), asserting HTTP 200. */
export async function getJson<T = Record<string, unknown>>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  assert.equal(res.status, 200, `${url} answered ${res.status}`);
  return (await res.json()) as T;
}
