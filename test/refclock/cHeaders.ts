/**
 * Cross-checks against the C headers: compile a tiny C program that prints `name value` lines
 * (sizeof, offsetof, #define values) and read them back. `.ci/run` installs gcc and the headers, so
 * in CI these checks always run; on a machine without `cc` the caller skips them, saying so.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Why the C cross-check cannot run here, or null when `cc` works. */
export function ccMissing(): string | null {
  const probe = spawnSync('cc', ['--version'], { encoding: 'utf8' });
  return probe.error !== undefined || probe.status !== 0 ? 'no C compiler (cc) on this machine' : null;
}

/**
 * Compiles `#include`s + `main` body lines (each printing `name value\n`), runs it and returns the
 * values by name. Asserts that compiling and running succeed.
 */
export async function printFromC(includes: string[], body: string[]): Promise<Map<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), 'timemesh-cc-'));
  try {
    const src = [
      '#include <stdio.h>',
      '#include <stddef.h>',
      ...includes.map((h) => `#include <${h}>`),
      'int main(void) {',
      ...body.map((l) => `  ${l}`),
      '  return 0;',
      '}',
    ].join('\n');
    await writeFile(join(dir, 'probe.c'), src);
    const cc = spawnSync('cc', ['-std=gnu11', '-o', join(dir, 'probe'), join(dir, 'probe.c')], {
      encoding: 'utf8',
    });
    assert.equal(cc.status, 0, `cc failed: ${cc.stderr}`);
    const out = spawnSync(join(dir, 'probe'), [], { encoding: 'utf8' });
    assert.equal(out.status, 0, `the probe failed: ${out.stderr}`);
    return new Map(
      out.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(' ') as [string, string]),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
