#!/usr/bin/env node
// The `timemesh` command. The sources are TypeScript; tsx compiles them on load, so a fresh clone
// runs with `npm ci` alone and no build step.
import { register } from 'tsx/esm/api';

register();
await import('../node/polyfills.ts');
await import('../node/cli.ts');
