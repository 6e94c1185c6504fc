/** `posture key …`, `posture attest`, `posture headers`, `posture run`: presenting this device. */
import type { Command } from 'commander';
import { createAgent } from '../agent/agent.js';
import { loadConfig } from '../agent/config.js';
import type { AgentConfig } from '../agent/config.js';
import type { SignerChoice, SignerDeps } from '../agent/signer.js';
import { signedAttestation, signedHeaders } from '../agent/signer.js';
import { PostureError } from '../shared/errors.js';
import { ATTESTATION_HEADER, PROOF_HEADER } from '../shared/claims.js';
import { HTTP_METHOD, isSignableUrl } from '../shared/local-api.js';
import { runAttached } from '../host/exec.js';
import { requestDaemonEnroll, requestDaemonRotate } from '../agent/daemon/status-client.js';
import type { DaemonFlags } from './via-daemon.js';
import { viaDaemon } from './via-daemon.js';

const HEADERS_PLACEHOLDER = '@posture-headers';

function print(json: boolean | undefined, value: object, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}

/**
 * The verifier URL given to `enroll`: an absolute http(s) URL, checked before any key is made or any
 * probe runs. Without it, `--server posture.example.com` failed as ERR_SERVER_UNREACHABLE (exit 7,
 * "retry later"), which no retry fixes.
 */
function serverUrl(url: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed?.protocol !== 'https:' && parsed?.protocol !== 'http:')
    throw new PostureError(
      'ERR_USAGE',
      `--server "${url}" is not an http(s) URL: give the verifier's URL as IT wrote it, e.g. https://posture.example.com.`,
    );
  return url;
}

/** A URL a proof or an attestation is made for: absolute http(s), no credentials or control characters. */
function signableUrl(url: string, flag: string): string {
  if (!isSignableUrl(url))
    throw new PostureError(
      'ERR_USAGE',
      `${flag} "${url.slice(0, 200)}" is not an absolute http(s) URL (no credentials, spaces or control characters).`,
    );
  return url;
}

interface SignerFlags {
  /** false with --no-daemon. */
  daemon?: boolean;
  requireDaemon?: boolean;
}

/** Who signs: the daemon when it runs, else this process, saying so on stderr (src/agent/signer.ts). */
function signerFor(config: AgentConfig, flags: SignerFlags): SignerDeps {
  if (flags.daemon === false && flags.requireDaemon)
    throw new PostureError('ERR_USAGE', '--no-daemon and --require-daemon contradict each other.');
  const choice: SignerChoice = flags.daemon === false ? 'process' : flags.requireDaemon ? 'daemon' : 'auto';
  return {
    choice,
    socketPath: config.socketPath,
    attestInProcess: (request) => createAgent({ config }).attest(request),
    onFallback: (notice) => process.stderr.write(`${notice}\n`),
  };
}

const NO_DAEMON_FLAG =
  'sign in this process with this user\u2019s key, without asking the agent\u2019s daemon';
const REQUIRE_DAEMON_FLAG = 'only the agent\u2019s daemon signs: no daemon → exit 11, no fallback';
const NO_DAEMON_ADMIN_FLAG =
  'do it in this process with this user\u2019s key and state, without asking the agent\u2019s daemon';
const REQUIRE_DAEMON_ADMIN_FLAG = 'only through the agent\u2019s daemon: no daemon → exit 11';

export function registerPresentCommands(program: Command): void {
  const key = program.command('key').description('the device key that signs attestations');
  key
    .command('show')
    .description('show the device key: id (RFC 7638 thumbprint), where it is kept, when it was made')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const { key: k, state } = await createAgent({ config: loadConfig() }).keyInfo();
      const info = {
        kid: k.kid,
        protection: k.protection,
        createdAt: k.createdAt,
        ref: k.ref,
        publicJwk: k.publicJwk,
        pendingRotationStatements: state.rotations.length,
        previousKeysKept: state.retired.map((r) => ({ kid: r.kid, ref: r.ref })),
      };
      print(
        opts.json,
        info,
        `kid         ${k.kid}\nprotection  ${k.protection}\ncreated     ${k.createdAt}\nkept at     ${k.ref}`,
      );
    });
  key
    .command('rotate')
    .description(
      'make a new device key; the old key signs the new key\u2019s thumbprint and is deleted once the verifier has the new key',
    )
    .option(
      '--force-new',
      'the current key is lost or revoked: make a new one without a rotation statement (the device must enroll again)',
    )
    .option('--no-daemon', NO_DAEMON_ADMIN_FLAG)
    .option('--require-daemon', REQUIRE_DAEMON_ADMIN_FLAG)
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean; forceNew?: boolean } & DaemonFlags) => {
      const config = loadConfig();
      const served = await viaDaemon(opts, () =>
        requestDaemonRotate(config.socketPath, { forceNew: opts.forceNew === true }),
      );
      if (served) {
        if (served.notSent)
          process.stderr.write(
            `posture: the verifier was not told yet (${served.notSent}); the agent service keeps the previous key until it is.\n`,
          );
        const { apiVersion: _version, ...answer } = served;
        print(
          opts.json,
          { ...answer, via: 'daemon' },
          `new key     ${served.keyId}${served.keyProtection ? ` (${served.keyProtection})` : ''}, made by the agent service`,
        );
        return;
      }
      const r = await createAgent({ config }).rotate({ forceNew: opts.forceNew === true });
      if (r.notSent)
        process.stderr.write(
          `posture: the verifier was not told yet (${r.notSent}); the previous key is kept until it is. Enroll again if this persists.\n`,
        );
      const info = {
        previousKid: r.previous?.kid ?? null,
        kid: r.active.kid,
        protection: r.active.protection,
        ref: r.active.ref,
        statement: r.statement ?? null,
        verifierUpdated: r.verifierUpdated,
        previousKeyKept: r.previousKept,
        via: 'process',
      };
      print(
        opts.json,
        info,
        [
          `new key     ${r.active.kid} (${r.active.protection}) at ${r.active.ref}`,
          r.previous
            ? `replaces    ${r.previous.kid}${r.previousKept ? ` (kept at ${r.previous.ref} until the verifier has the new key)` : ' (deleted)'}`
            : '',
          !r.statement && r.enrolled ? 'no rotation statement: enroll this device again' : '',
        ]
          .filter(Boolean)
          .join('\n'),
      );
    });

  program
    .command('enroll')
    .description('enroll this device with a verifier, using a one-time token from IT')
    .requiredOption('--server <url>', 'the verifier URL, e.g. https://posture.example.com')
    .requiredOption('--token <token>', 'the one-time enrollment token')
    .option(
      '--new-key-if-revoked',
      'when the verifier says this device key is revoked (and kept the token unused), make a new key and enroll it',
    )
    .option('--no-daemon', NO_DAEMON_ADMIN_FLAG)
    .option('--require-daemon', REQUIRE_DAEMON_ADMIN_FLAG)
    .option('--json', 'print JSON')
    .action(
      async (
        opts: { server: string; token: string; json?: boolean; newKeyIfRevoked?: boolean } & DaemonFlags,
      ) => {
        const server = serverUrl(opts.server);
        if (opts.token.trim() === '' || opts.token.length > 4096)
          throw new PostureError(
            'ERR_USAGE',
            '--token is empty or too long: paste the one-time token IT gave you, whole.',
          );
        const config = loadConfig();
        const served = await viaDaemon(opts, () =>
          requestDaemonEnroll(config.socketPath, {
            token: opts.token,
            verifierUrl: server,
            newKeyIfRevoked: opts.newKeyIfRevoked === true,
          }),
        );
        if (served) {
          const { apiVersion: _version, ...answer } = served;
          print(
            opts.json,
            { ...answer, server, via: 'daemon' },
            `enrolled as ${served.deviceId} with ${server} by the agent service (key protection ${served.keyProtection})`,
          );
          return;
        }
        const e = await createAgent({ config }).enroll({
          server,
          token: opts.token,
          newKeyIfRevoked: opts.newKeyIfRevoked === true,
        });
        if (e.newKey) process.stderr.write(`posture: key ${e.revokedKid} was revoked; enrolled a new key\n`);
        print(
          opts.json,
          { ...e, via: 'process' },
          `enrolled as ${e.deviceId} with ${e.server} (key ${e.kid}${e.newKey ? ', new' : ''}); status ${e.status}`,
        );
      },
    );

  program
    .command('attest')
    .description(
      'print a signed attestation (a JWT) for an audience: the agent\u2019s daemon\u2019s when it runs, else collected and signed in this process',
    )
    .option('--aud <url>', 'audience: the access proxy or verifier URL (default: configured)')
    .option('--nonce <nonce>', 'the verifier nonce to include (eat_nonce)')
    .option('--no-daemon', NO_DAEMON_FLAG)
    .option('--require-daemon', REQUIRE_DAEMON_FLAG)
    .option(
      '--json',
      'print the token with its claims, expiry and who signed it (signedBy: daemon or process)',
    )
    .action(async (opts: { aud?: string; nonce?: string; json?: boolean } & SignerFlags) => {
      const config = loadConfig();
      const audience = opts.aud ? signableUrl(opts.aud, '--aud') : config.audience;
      const a = await signedAttestation(signerFor(config, opts), {
        ...(audience ? { audience } : {}),
        ...(opts.nonce ? { nonce: opts.nonce } : {}),
      });
      print(
        opts.json,
        { token: a.token, expiresAt: a.expiresAt, claims: a.claims, signedBy: a.signedBy },
        a.token,
      );
    });

  program
    .command('headers')
    .description(
      'print ready-to-send Posture-Attestation and Posture-Proof headers for one request (signed by the agent\u2019s daemon when it runs)',
    )
    .requiredOption('--url <url>', 'the request URL (the proof is bound to it)')
    .option('--method <method>', 'the request method', 'GET')
    .option('--aud <url>', 'audience (default: configured, else the URL\u2019s origin)')
    .option(
      '--format <format>',
      'http (Name: value lines), curl (-H arguments), json (the two headers)',
      'http',
    )
    .option('--no-daemon', NO_DAEMON_FLAG)
    .option('--require-daemon', REQUIRE_DAEMON_FLAG)
    .option('--json', 'print {headers, signedBy, audience, expiresAt} (signedBy: daemon or process)')
    .action(
      async (
        opts: { url: string; method: string; aud?: string; format: string; json?: boolean } & SignerFlags,
      ) => {
        if (!['http', 'curl', 'json'].includes(opts.format))
          throw new PostureError('ERR_USAGE', `unknown --format "${opts.format}": use http, curl or json.`);
        const signed = await headersFor(opts);
        const { headers } = signed;
        if (opts.json) print(true, signed, '');
        else if (opts.format === 'json') process.stdout.write(`${JSON.stringify(headers, null, 2)}\n`);
        else if (opts.format === 'curl')
          process.stdout.write(
            `${Object.entries(headers)
              .map(([n, v]) => `-H '${n}: ${v}'`)
              .join(' ')}\n`,
          );
        else
          process.stdout.write(
            `${Object.entries(headers)
              .map(([n, v]) => `${n}: ${v}`)
              .join('\n')}\n`,
          );
      },
    );

  program
    .command('run')
    .description(
      `run a command with fresh headers: "${HEADERS_PLACEHOLDER}" in its arguments becomes -H pairs; POSTURE_ATTESTATION and POSTURE_PROOF are set in its environment`,
    )
    .requiredOption('--url <url>', 'the request URL the command will call')
    .option('--method <method>', 'the request method', 'GET')
    .option('--aud <url>', 'audience (default: configured, else the URL\u2019s origin)')
    .option('--no-daemon', NO_DAEMON_FLAG)
    .option('--require-daemon', REQUIRE_DAEMON_FLAG)
    .argument(
      '<command...>',
      `the command, e.g. -- curl -sS ${HEADERS_PLACEHOLDER} https://app.example.com/api`,
    )
    .action(async (command: string[], opts: { url: string; method: string; aud?: string } & SignerFlags) => {
      const [program_, ...args] = command;
      if (!program_) throw new PostureError('ERR_USAGE', 'name the command to run after --');
      const { headers, signedBy } = await headersFor(opts);
      const expanded = args.flatMap((arg) =>
        arg === HEADERS_PLACEHOLDER
          ? Object.entries(headers).flatMap(([n, v]) => ['-H', `${n}: ${v}`])
          : [arg],
      );
      const env = {
        ...process.env,
        POSTURE_ATTESTATION: headers[ATTESTATION_HEADER],
        POSTURE_PROOF: headers[PROOF_HEADER],
        POSTURE_SIGNED_BY: signedBy,
      };
      try {
        process.exitCode = await runAttached(program_, expanded, env);
      } catch (error) {
        throw new PostureError('ERR_USAGE', `cannot run ${program_}: ${(error as Error).message}`);
      }
    });
}

/** The headers for `headers` and `run`: --url and --aud checked first, then the daemon or this process. */
function headersFor(opts: { url: string; method: string; aud?: string } & SignerFlags) {
  const url = signableUrl(opts.url, '--url');
  const config = loadConfig();
  // The same audience whoever signs: --aud, else the configured one, else the URL's origin (the
  // daemon's own audience is the verifier it pushes to, which no access proxy accepts).
  const audience = opts.aud ? signableUrl(opts.aud, '--aud') : (config.audience ?? new URL(url).origin);
  if (!HTTP_METHOD.test(opts.method))
    throw new PostureError('ERR_USAGE', `--method "${opts.method.slice(0, 40)}" is not an HTTP method.`);
  return signedHeaders(signerFor(config, opts), {
    method: opts.method,
    url,
    audience,
    fallbackAudience: audience,
  });
}
