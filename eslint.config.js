import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const noChildProcess = {
  name: 'node:child_process',
  message: 'spawn processes only through src/host/exec.ts',
};
// The verifier service (src/verifier-service/) is an application: only its own main starts it, and
// nothing else in src/ imports it.
const noService = {
  regex: '(^|/)verifier-service(/|$)',
  message: 'nothing imports the verifier service; it is started by its own main',
};

/** The folders of src/ a layer's files may not import from (a path segment of the import). */
function layer(files, forbidden) {
  return {
    files: [files],
    ignores: ['src/host/exec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [noChildProcess],
          patterns: [
            noService,
            {
              regex: `^\\.{1,2}/(.*/)?(${[...forbidden, 'verifier'].join('|')})(/|$)`,
              message: `${files.split('/')[1]} may not import ${forbidden.join(', ')} (DESIGN §3: dependencies point one way)`,
            },
          ],
        },
      ],
    },
  };
}

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
  // Dependencies point one way (DESIGN §3): cli, tray and agent use attest, keys, probes, host and
  // shared; attest uses keys, host and shared; probes and keys use host and shared; host uses shared;
  // nothing imports the CLI. Each layer lists the folders it must not reach.
  layer('src/agent/**/*.ts', ['cli', 'tray']),
  layer('src/cli/**/*.ts', ['tray']),
  layer('src/tray/**/*.ts', ['cli']),
  layer('src/attest/**/*.ts', ['agent', 'cli', 'tray', 'probes']),
  layer('src/probes/**/*.ts', ['agent', 'cli', 'tray', 'attest', 'keys']),
  layer('src/keys/**/*.ts', ['agent', 'cli', 'tray', 'attest', 'probes']),
  layer('src/host/**/*.ts', ['agent', 'cli', 'tray', 'attest', 'probes', 'keys']),
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
