/** `posture key …`, `posture attest`, `posture headers`, `posture run`: presenting this device. */
import type { Command } from 'commander';
import { createAttestor, INSTALL_DIR } from '../agent/attestor.js';
import { enrollDevice, readEnrollment, sendRotation } from '../agent/enroll.js';
import { EnrollError } from '../agent/enroll-errors.js';
import { loadConfig } from '../agent/config.js';
import { postureHeaders } from '../attest/headers.js';
import { PostureError } from '../shared/errors.js';
import { ATTESTATION_HEADER, PROOF_HEADER } from '../shared/claims.js';
import { KeyError } from '../keys/errors.js';
import { finishRotation, loadDeviceKey, readKeyState, rotateDeviceKey } from '../keys/manager.js';
import type { DeviceKey } from '../keys/types.js';
import { keyManagerDeps } from '../keys/select.js';
import { runAttached } from '../probes/exec.js';

const HEADERS_PLACEHOLDER = '@posture-headers';

function print(json: boolean | undefined, value: object, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
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
      const config = loadConfig();
      const deps = keyManagerDeps(config, INSTALL_DIR);
      const state = await readKeyState(deps.statePath);
      if (!state)
        throw new KeyError(
          'ERR_KEY_NOT_FOUND',
          'this device has no device key yet; `posture attest` or `posture key rotate` makes one.',
        );
      const k = await loadDeviceKey(deps, { create: false });
      const info = {
        kid: k.kid,
        protection: k.protection,
        createdAt: k.createdAt,
        ref: k.ref,
        publicJwk: k.publicJwk,
        pendingRotationStatements: state.rotations.length,
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
      const config = loadConfig();
      const deps = keyManagerDeps(config, INSTALL_DIR);
      const result = await rotateDeviceKey(deps, { forceNew: opts.forceNew === true });
      const enrolled = (await readEnrollment(config.stateDir)) !== undefined;
      // An enrolled device tells its verifier at once; the old key is kept until the verifier has the
      // new one (or, with --force-new, until the device enrolled again).
      const sent = result.statement
        ? await sendRotation({
            key: result.active,
            stateDir: config.stateDir,
            keyStatePath: deps.statePath,
          }).catch((error: unknown) => {
            process.stderr.write(
              `posture: the verifier was not told yet (${(error as Error).message}); the previous key is kept until it is. Enroll again if this persists.\n`,
            );
            return false;
          })
        : false;
      const kept =
        !enrolled || sent
          ? await finishRotation(deps)
          : ((await readKeyState(deps.statePath))?.retired ?? []);
      const info = {
        previousKid: result.previous?.kid ?? null,
        kid: result.active.kid,
        protection: result.active.protection,
        ref: result.active.ref,
        statement: result.statement ?? null,
        verifierUpdated: sent,
        previousKeyKept: kept.some((r) => r.kid === result.previous?.kid),
      };
      print(
        opts.json,
        info,
        [
          `new key     ${result.active.kid} (${result.active.protection}) at ${result.active.ref}`,
          result.previous
            ? `replaces    ${result.previous.kid}${info.previousKeyKept ? ` (kept at ${result.previous.ref} until the verifier has the new key)` : ' (deleted)'}`
            : '',
          result.statement ? '' : enrolled ? 'no rotation statement: enroll this device again' : '',
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
      const config = loadConfig();
      const deps = keyManagerDeps(config, INSTALL_DIR);
      const attestor = createAttestor(config);
      const [key, report] = await Promise.all([attestor.key(), attestor.collect()]);
      const os = report.checks.os_version;
      const enroll = (k: DeviceKey) =>
        enrollDevice({
          server: opts.server,
          token: opts.token,
          key: k,
          stateDir: config.stateDir,
          inventory: report.device,
          ...(os?.status === 'observed' ? { osName: os.observation.name } : {}),
        });
      let newKey = false;
      const e = await enroll(key).catch(async (error: unknown) => {
        const renew =
          opts.newKeyIfRevoked &&
          error instanceof EnrollError &&
          error.code === 'ERR_DEVICE_REVOKED' &&
          error.tokenUsed === false;
        if (!renew) throw error;
        const { active } = await rotateDeviceKey(deps, { forceNew: true });
        process.stderr.write(`posture: key ${key.kid} is revoked; enrolling a new key ${active.kid}\n`);
        newKey = true;
        return enroll(active);
      });
      // The verifier has the active key now: keys replaced earlier are no longer needed.
      await finishRotation(deps);
      print(
        opts.json,
        { ...e, newKey },
        `enrolled as ${e.deviceId} with ${e.server} (key ${e.kid}${newKey ? ', new' : ''}); status ${e.status}`,
      );
    });

  program
    .command('attest')
    .description('collect posture and print a signed attestation (a JWT) for an audience')
    .option('--aud <url>', 'audience: the access proxy or verifier URL (default: configured)')
    .option('--nonce <nonce>', 'the verifier nonce to include (eat_nonce)')
    .option('--json', 'print the token with its claims and expiry')
    .action(async (opts: { aud?: string; nonce?: string; json?: boolean }) => {
      const attestor = createAttestor(loadConfig());
      const a = await attestor.attest({
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
      const a = await createAttestor(config).attest({
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
      const a = await createAttestor(config).attest({
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
