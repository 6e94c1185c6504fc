/** `posture key …`, `posture attest`, `posture headers`, `posture run`: presenting this device. */
import type { Command } from 'commander';
import { createAgent } from '../agent/agent.js';
import { loadConfig } from '../agent/config.js';
import { postureHeaders } from '../attest/headers.js';
import { PostureError } from '../shared/errors.js';
import { ATTESTATION_HEADER, PROOF_HEADER } from '../shared/claims.js';
import { runAttached } from '../host/exec.js';

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

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    throw new PostureError('ERR_USAGE', `"${url}" is not an absolute URL.`);
  }
}

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
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean; forceNew?: boolean }) => {
      const r = await createAgent({ config: loadConfig() }).rotate({ forceNew: opts.forceNew === true });
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
    .option('--json', 'print JSON')
    .action(async (opts: { server: string; token: string; json?: boolean; newKeyIfRevoked?: boolean }) => {
      const server = serverUrl(opts.server);
      const e = await createAgent({ config: loadConfig() }).enroll({
        server,
        token: opts.token,
        newKeyIfRevoked: opts.newKeyIfRevoked === true,
      });
      if (e.newKey) process.stderr.write(`posture: key ${e.revokedKid} was revoked; enrolled a new key\n`);
      print(
        opts.json,
        e,
        `enrolled as ${e.deviceId} with ${e.server} (key ${e.kid}${e.newKey ? ', new' : ''}); status ${e.status}`,
      );
    });

  program
    .command('attest')
    .description('collect posture and print a signed attestation (a JWT) for an audience')
    .option('--aud <url>', 'audience: the access proxy or verifier URL (default: configured)')
    .option('--nonce <nonce>', 'the verifier nonce to include (eat_nonce)')
    .option('--json', 'print the token with its claims and expiry')
    .action(async (opts: { aud?: string; nonce?: string; json?: boolean }) => {
      const a = await createAgent({ config: loadConfig() }).attest({
        ...(opts.aud ? { audience: opts.aud } : {}),
        ...(opts.nonce ? { nonce: opts.nonce } : {}),
      });
      print(
        opts.json,
        { token: a.token, expiresAt: new Date(a.expiresAt).toISOString(), claims: a.claims },
        a.token,
      );
    });

  program
    .command('headers')
    .description('print ready-to-send Posture-Attestation and Posture-Proof headers for one request')
    .requiredOption('--url <url>', 'the request URL (the proof is bound to it)')
    .option('--method <method>', 'the request method', 'GET')
    .option('--aud <url>', 'audience (default: configured, else the URL\u2019s origin)')
    .option('--format <format>', 'http (Name: value lines), curl (-H arguments), json', 'http')
    .action(async (opts: { url: string; method: string; aud?: string; format: string }) => {
      const config = loadConfig();
      const a = await createAgent({ config }).attest({
        audience: opts.aud ?? config.audience ?? originOf(opts.url),
      });
      const headers = postureHeaders(a, opts.method, opts.url);
      if (opts.format === 'json') process.stdout.write(`${JSON.stringify(headers, null, 2)}\n`);
      else if (opts.format === 'curl')
        process.stdout.write(
          `${Object.entries(headers)
            .map(([n, v]) => `-H '${n}: ${v}'`)
            .join(' ')}\n`,
        );
      else if (opts.format === 'http')
        process.stdout.write(
          `${Object.entries(headers)
            .map(([n, v]) => `${n}: ${v}`)
            .join('\n')}\n`,
        );
      else throw new PostureError('ERR_USAGE', `unknown --format "${opts.format}": use http, curl or json.`);
    });

  program
    .command('run')
    .description(
      `run a command with fresh headers: "${HEADERS_PLACEHOLDER}" in its arguments becomes -H pairs; POSTURE_ATTESTATION and POSTURE_PROOF are set in its environment`,
    )
    .requiredOption('--url <url>', 'the request URL the command will call')
    .option('--method <method>', 'the request method', 'GET')
    .option('--aud <url>', 'audience (default: configured, else the URL\u2019s origin)')
    .argument(
      '<command...>',
      `the command, e.g. -- curl -sS ${HEADERS_PLACEHOLDER} https://app.example.com/api`,
    )
    .action(async (command: string[], opts: { url: string; method: string; aud?: string }) => {
      const config = loadConfig();
      const a = await createAgent({ config }).attest({
        audience: opts.aud ?? config.audience ?? originOf(opts.url),
      });
      const headers = postureHeaders(a, opts.method, opts.url);
      const [program_, ...args] = command;
      if (!program_) throw new PostureError('ERR_USAGE', 'name the command to run after --');
      const expanded = args.flatMap((arg) =>
        arg === HEADERS_PLACEHOLDER
          ? Object.entries(headers).flatMap(([n, v]) => ['-H', `${n}: ${v}`])
          : [arg],
      );
      const env = {
        ...process.env,
        POSTURE_ATTESTATION: headers[ATTESTATION_HEADER],
        POSTURE_PROOF: headers[PROOF_HEADER],
      };
      try {
        process.exitCode = await runAttached(program_, expanded, env);
      } catch (error) {
        throw new PostureError('ERR_USAGE', `cannot run ${program_}: ${(error as Error).message}`);
      }
    });
}
