import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const noChildProcess = {
  name: 'node:child_process',
  message: 'spawn processes only through src/probes/exec.ts',
};
// The verifier service (src/verifier-service/) is an application: only its own main starts it, and
// nothing else in src/ imports it.
const noService = {
  regex: '(^|/)verifier-service(/|$)',
  message: 'nothing imports the verifier service; it is started by its own main',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test/fixtures/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/probes/exec.ts', 'src/verifier-service/**'],
    rules: { 'no-restricted-imports': ['error', { paths: [noChildProcess], patterns: [noService] }] },
  },
  {
    // shared/ runs on any JS runtime: no Node built-ins.
    files: ['src/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*', 'electron'], message: 'shared code runs on any JS runtime' },
            noService,
          ],
        },
      ],
    },
  },
  {
    // The verification library runs on any JS runtime: its own files, src/shared and jose, nothing else.
    files: ['src/verifier/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!jose$|\\./[^/]+$|\\.\\./shared/[^/]+$)',
              message: 'the verification library imports only its own files, src/shared and jose',
            },
          ],
        },
      ],
    },
  },
  {
    // The service may use the library, shared and packages; not the agent, CLI, keys or probes.
    files: ['src/verifier-service/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [noChildProcess],
          patterns: [
            {
              regex: '^\\.\\./(?!verifier/[^/]+$|shared/[^/]+$)|^\\.\\./\\.\\./',
              message:
                'the verifier service imports only its own files, src/verifier, src/shared and packages',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', Buffer: 'readonly' },
    },
  },
);
