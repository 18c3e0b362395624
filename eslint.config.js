// Lint rules. The pure folders (hlc/, bft/, node/core/) get extra rules: no node:* imports, no wall
// clock, no timers, no ambient randomness. Time and randomness flow in as arguments; that is what makes
// the simulator deterministic and lets the real node and the simulator drive the same code. The
// deterministic simulator (sim/, except the libp2p engine) may not import mesh/, libp2p or the daemon.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const pureFolders = ['hlc/**/*.ts', 'bft/**/*.ts', 'node/core/**/*.ts'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'reports/**', 'test-artifacts/**', '.scratch/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: ['error', 'always'],
    },
  },
  {
    files: pureFolders,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'Pure core code must not import node:* modules.' },
            {
              group: ['fs', 'net', 'dgram', 'os', 'crypto', 'timers', 'child_process'],
              message: 'No I/O in pure code.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Pure code returns wake-up actions instead of setting timers.' },
        { name: 'setInterval', message: 'Pure code returns wake-up actions instead of setting timers.' },
        { name: 'setImmediate', message: 'No timers in pure code.' },
        { name: 'performance', message: 'Time flows in as an argument.' },
        { name: 'process', message: 'No process access in pure code.' },
        { name: 'crypto', message: 'Randomness flows in as an argument.' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Time flows in as an argument.' },
        { object: 'Math', property: 'random', message: 'Randomness flows in as an argument (a seeded Rng).' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'Time flows in as an argument.',
        },
      ],
    },
  },
  {
    // The dashboard's page script (node/dashboard/dashboard.js): plain browser JavaScript, a classic
    // script with no build step, using the global uPlot that /assets/uplot.min.js defines.
    files: ['node/dashboard/**/*.js'],
    languageOptions: {
      ecmaVersion: 2020,
      sourceType: 'script',
      globals: { ...globals.browser, uPlot: 'readonly' },
    },
  },
  {
    // The deterministic simulator runs the pure core and nothing of the runtime. Only the libp2p
    // engine (sim/libp2pEngine.ts, exported by sim/index.ts) runs real libp2p stacks, mesh/ and node/.
    files: ['sim/**/*.ts'],
    ignores: ['sim/libp2pEngine.ts', 'sim/index.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)mesh/|^libp2p$|^@libp2p/|^@chainsafe/|^@multiformats/',
              message:
                'Only sim/libp2pEngine.ts may run libp2p; the deterministic simulator stays free of it.',
            },
            {
              regex: '(^|/)node/(?!core/|validationText\\.ts$)',
              message: 'The deterministic simulator uses node/core/ only, not the daemon runtime.',
            },
          ],
        },
      ],
    },
  },
);
