// ESLint 9 flat config. Only the rules that guard real bugs in this project:
// - unawaited promises (type-aware), which in Temporal and Koa code silently lose errors;
// - Node builtins and I/O libraries in workflow code, which must stay deterministic and is
//   bundled for Temporal's workflow sandbox.
import { builtinModules } from 'node:module';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

const banned = ['mongoose', 'modesl', 'koa', '@koa/router', 'koa-bodyparser'];

export default defineConfig([
  globalIgnores(['node_modules/', '.tools/', '.data/', 'tmp/']),
  // Code may disable rules this small set does not enable; that is not worth a warning.
  { linterOptions: { reportUnusedDisableDirectives: 'off' } },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's test()/describe() return promises the runner itself awaits.
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] },
          ],
        },
      ],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...builtinModules, ...banned].map((name) => ({
            name,
            message: 'Workflow code runs in the Temporal sandbox: no Node builtins or I/O libraries; use activities.',
          })),
          patterns: [
            { group: ['node:*'], message: 'Workflow code runs in the Temporal sandbox: no Node builtins; use activities.' },
            { group: banned.map((n) => `${n}/*`), message: 'No I/O libraries in workflow code; use activities.' },
          ],
        },
      ],
    },
  },
]);
