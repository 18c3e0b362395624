#!/usr/bin/env node
// `npm run build`: compiles the library into dist/ so that plain Node (no tsx) can import it.
//
//   node packaging/build.mjs [--out-dir DIR]     (default dist/, emptied first)
//
// 1. tsc -p tsconfig.build.json: rewriteRelativeImportExtensions turns the sources' `./x.ts` imports
//    into `./x.js`, and declarations (.d.ts) are emitted beside the JavaScript.
// 2. The files the runtime reads beside its modules (the dashboard's HTML, CSS and script in
//    node/dashboard/, found through import.meta.dirname) are copied over: tsc copies only what it
//    compiles. Every file of the compiled folders that is not TypeScript or Markdown is copied, so an
//    asset added later is not forgotten.
// Plain JavaScript on purpose: it must run before anything is built, with nothing but Node.
import { cpSync, readFileSync, rmSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { 'out-dir': { type: 'string' } }, strict: true });
const outDir = resolve(values['out-dir'] ?? join(root, 'dist'));
const tsconfig = join(root, 'tsconfig.build.json');

rmSync(outDir, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const result = spawnSync(process.execPath, [tsc, '-p', tsconfig, '--outDir', outDir], {
  cwd: root,
  stdio: 'inherit',
});
if (result.status !== 0) {
  process.stderr.write(`build: tsc failed (exit ${result.status ?? result.signal})\n`);
  process.exit(1);
}

const { include } = JSON.parse(readFileSync(tsconfig, 'utf8'));
const NOT_ASSETS = new Set(['.ts', '.md']);
for (const entry of include) {
  if (extname(entry) !== '') continue; // a file (index.ts), not a folder
  cpSync(join(root, entry), join(outDir, entry), {
    recursive: true,
    filter: (src) => statSync(src).isDirectory() || !NOT_ASSETS.has(extname(src)),
  });
}
// On stderr: `npm pack --json` runs this (prepack) and its stdout must stay JSON.
process.stderr.write(`build: ${outDir}\n`);
