import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const noChildProcess = { name: 'node:child_process', message: 'spawn processes only through src/probes/exec.ts' };

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test/fixtures/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/probes/exec.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [noChildProcess] }] },
  },
  {
    // shared/ and the verification library run on any JS runtime: no Node built-ins.
    files: ['src/shared/**/*.ts', 'src/verifier/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['node:*', 'electron'], message: 'shared and verifier code runs on any JS runtime' }] },
      ],
    },
  },
  {
    files: ['**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', Buffer: 'readonly' } },
  },
);
