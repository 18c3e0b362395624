/**
 * Shared by the GPS pty tests (gpsSerial.test.ts, gpsDaemon.test.ts): a socat pseudo-terminal pair
 * (`gps` is the receiver's end a driver reads, `feed` the end the test writes), and the fixture
 * (test/fixtures/gps-nmea.txt) replayed one second at a time with its sentence times rewritten to the
 * current UTC second (checksums recomputed; the broken lines stay broken).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { nmeaChecksum } from '../../refclock/nmea.ts';

const FIXTURE = new URL('../fixtures/gps-nmea.txt', import.meta.url);

/** The fixture's lines grouped by the second they name (lines without a time join the current group). */
export function fixtureSeconds(): string[][] {
  const groups: string[][] = [];
  let last = '';
  for (const line of readFileSync(FIXTURE, 'latin1').split('\r\n').filter(Boolean)) {
    const t = /^\$[A-Z]{2}(?:RMC|GGA|ZDA),(\d{6})/.exec(line)?.[1];
    if (t !== undefined && t !== last) {
      groups.push([]);
      last = t;
    }
    groups[groups.length - 1]?.push(line);
  }
  return groups;
}

/** Rewrites a line's time (and date) to UTC second `s`; a good checksum stays good, a bad one bad. */
export function retime(line: string, s: bigint): string {
  const m = /^\$([A-Z]{2})(RMC|GGA|ZDA),/.exec(line);
  if (!m) return line;
  const d = new Date(Number(s) * 1000);
  const p2 = (n: number) => String(n).padStart(2, '0');
  const star = line.lastIndexOf('*');
  const body = line.slice(1, star < 0 ? undefined : star);
  const f = body.split(',');
  f[1] = `${p2(d.getUTCHours())}${p2(d.getUTCMinutes())}${p2(d.getUTCSeconds())}.00`;
  if (m[2] === 'RMC' && f.length > 9)
    f[9] = `${p2(d.getUTCDate())}${p2(d.getUTCMonth() + 1)}${p2(d.getUTCFullYear() % 100)}`;
  if (m[2] === 'ZDA' && f.length > 4) {
    f[2] = p2(d.getUTCDate());
    f[3] = p2(d.getUTCMonth() + 1);
    f[4] = String(d.getUTCFullYear());
  }
  const newBody = f.join(',');
  if (star < 0) return `$${newBody}`;
  const wasGood = nmeaChecksum(body) === parseInt(line.slice(star + 1), 16);
  const sum = nmeaChecksum(newBody) ^ (wasGood ? 0 : 0x55);
  return `$${newBody}*${sum.toString(16).toUpperCase().padStart(2, '0')}`;
}

export class PtyPair {
  private proc: ChildProcess | undefined;
  constructor(readonly dir: string) {}
  get gps(): string {
    return join(this.dir, 'gps');
  }
  get feed(): string {
    return join(this.dir, 'feed');
  }
  async start(): Promise<void> {
    this.proc = spawn(
      'socat',
      ['-d', '-d', `pty,raw,echo=0,link=${this.gps}`, `pty,raw,echo=0,link=${this.feed}`],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 250 && !(existsSync(this.gps) && existsSync(this.feed)); i++) await sleep(20);
    assert.ok(existsSync(this.gps) && existsSync(this.feed), 'socat did not create the pty links');
  }
  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    await exited;
    for (let i = 0; i < 100 && (existsSync(this.gps) || existsSync(this.feed)); i++) await sleep(10);
  }
}

/** Waits for the next UTC second, writes one second of fixture lines for it; returns that second. */
export async function writeSecond(pty: PtyPair, lines: string[]): Promise<bigint> {
  const nowMs = Date.now();
  await sleep(1000 - (nowMs % 1000) + 1);
  const s = BigInt(Math.floor(Date.now() / 1000));
  const fd = openSync(pty.feed, constants.O_WRONLY | constants.O_NOCTTY);
  try {
    writeSync(fd, lines.map((l) => retime(l, s) + '\r\n').join(''));
  } finally {
    closeSync(fd);
  }
  return s;
}

export async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  for (let waited = 0; !cond() && waited < timeoutMs; waited += 10) await sleep(10);
}
