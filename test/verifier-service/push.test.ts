/**
 * Push and supersede on the embedded SQLite store, over real HTTP with real keys: the device pushes
 * each new attestation, an older one still presented is denied `attestation_superseded`, the admin
 * API shows the pushed posture at once, hostile pushes get their codes, and an optional heartbeat
 * age denies a silent device `device_stale`.
 */
import { createAttestation } from '../../src/attest/attestation.js';
import { postureHeaders } from '../../src/attest/headers.js';
import { generatePrivateJwk, softwareKey } from '../../src/keys/software-key.js';
import { PUSH_PATH, pushUrl } from '../../src/verifier-service/attestation-push.js';
import { compliantChecks, report } from '../helpers/device.js';
import { enrolledDevice, failingFirewall } from '../helpers/enrolled-device.js';
import { APP_URL, attestAt, codeOf, forwardAuth, push, PUSH_POLICY } from '../helpers/push.js';
import { admin, APP_AUDIENCE, PUBLIC_URL, serviceConfig, testService } from '../helpers/service.js';

async function pushService(extra: object = {}, now?: () => number) {
  const svc = await testService({
    config: serviceConfig(extra),
    ...(now ? { now } : {}),
  });
  svc.setPolicy(PUSH_POLICY);
  return svc;
}

describe('push and supersede (SQLite)', () => {
  it('A1 allowed; after A2 (firewall off) A1 is superseded and A2 fails policy; A3 compliant is allowed again', async () => {
    const svc = await pushService();
    const device = await enrolledDevice(svc);
    const a1 = await attestAt(device, 30);
    const p1 = await push(svc.call, a1);
    expect(p1.statusCode).toBe(200);
    expect(p1.json()).toMatchObject({ deviceId: device.deviceId, decision: { allowed: true } });
    expect((await forwardAuth(svc.call, a1)).statusCode).toBe(200);

    const a2 = await attestAt(device, 20, failingFirewall());
    const p2 = await push(svc.call, a2);
    expect(p2.statusCode).toBe(200);
    expect(p2.json().decision).toMatchObject({ allowed: false, reasons: [{ code: 'posture_failed' }] });
    const old = await forwardAuth(svc.call, a1);
    expect([old.statusCode, codeOf(old)]).toEqual([401, 'attestation_superseded']);
    const failing = await forwardAuth(svc.call, a2);
    expect([failing.statusCode, codeOf(failing)]).toEqual([403, 'posture_failed']);

    // The admin API shows the pushed posture and when, without waiting.
    const shown = (
      await svc.call({ method: 'GET', url: `/v1/admin/devices/${device.deviceId}`, headers: admin })
    ).json();
    expect(shown.lastPosture).toMatchObject({ overall: 'fail', failing: ['firewall'] });
    expect(Date.now() - Date.parse(shown.lastSeenAt)).toBeLessThan(60_000);
    expect(shown.newestAttestation).toEqual({
      issuedAt: new Date(a2.claims.iat * 1000).toISOString(),
      jti: a2.claims.jti,
    });
    expect(Date.parse(shown.lastPushAt)).toBe(Date.parse(shown.lastSeenAt));
    // Each push is in the decision log with its answer.
    const pushes = svc.decisions.filter((e) => (e as { method: string }).method === 'POST');
    expect(pushes).toMatchObject([
      { device: device.deviceId, allowed: true, status: 200, reasons: [] },
      { device: device.deviceId, allowed: false, status: 200, reasons: ['posture_failed:firewall'] },
    ]);

    const a3 = await attestAt(device, 10);
    expect((await push(svc.call, a3)).statusCode).toBe(200);
    expect((await forwardAuth(svc.call, a3)).statusCode).toBe(200);
    expect(codeOf(await forwardAuth(svc.call, a2))).toBe('attestation_superseded');
    const after = (
      await svc.call({ method: 'GET', url: `/v1/admin/devices/${device.deviceId}`, headers: admin })
    ).json();
    expect(after.lastPosture).toMatchObject({ overall: 'pass', failing: [] });
  });

  it('a heartbeat is the current attestation pushed again with a fresh proof', async () => {
    const svc = await pushService();
    const device = await enrolledDevice(svc);
    const a = await attestAt(device, 5);
    expect((await push(svc.call, a)).statusCode).toBe(200);
    const again = await push(svc.call, a);
    expect(again.statusCode).toBe(200);
    expect((await forwardAuth(svc.call, a)).statusCode).toBe(200);
  });

  it('a push made for the verifier itself (the agent’s audience when none is configured) is accepted; other audiences are not', async () => {
    const svc = await pushService();
    const device = await enrolledDevice(svc);
    const own = await attestAt(device, 10, compliantChecks(Date.now()), PUBLIC_URL);
    expect((await push(svc.call, own)).statusCode).toBe(200);
    // It opens no application: the proxy's audience is the application's.
    expect(codeOf(await forwardAuth(svc.call, own))).toBe('attestation_audience_invalid');
    const elsewhere = await attestAt(device, 5, compliantChecks(Date.now()), 'https://elsewhere.example');
    const refused = await push(svc.call, elsewhere);
    expect([refused.statusCode, codeOf(refused)]).toEqual([401, 'attestation_audience_invalid']);
  });

  it('an attestation newer than any push (a client ahead of the push) is not superseded', async () => {
    const svc = await pushService();
    const device = await enrolledDevice(svc);
    expect((await push(svc.call, await attestAt(device, 20))).statusCode).toBe(200);
    expect((await forwardAuth(svc.call, await attestAt(device, 0))).statusCode).toBe(200);
  });

  describe('hostile pushes get coded 4xx', () => {
    it('an older iat than the newest: 409 attestation_superseded, and the newest stays', async () => {
      const svc = await pushService();
      const device = await enrolledDevice(svc);
      const older = await attestAt(device, 30);
      const newer = await attestAt(device, 10, failingFirewall());
      expect((await push(svc.call, newer)).statusCode).toBe(200);
      const res = await push(svc.call, older);
      expect([res.statusCode, codeOf(res)]).toEqual([409, 'attestation_superseded']);
      expect(svc.decisions.at(-1)).toMatchObject({ status: 409, reasons: ['attestation_superseded'] });
      expect(codeOf(await forwardAuth(svc.call, newer))).toBe('posture_failed');
      expect(codeOf(await forwardAuth(svc.call, older))).toBe('attestation_superseded');
    });

    it('a replayed proof: 401 proof_replayed', async () => {
      const svc = await pushService();
      const device = await enrolledDevice(svc);
      const a = await attestAt(device, 5);
      const headers = postureHeaders(a, 'POST', pushUrl(PUBLIC_URL));
      expect((await svc.call({ method: 'POST', url: PUSH_PATH, headers })).statusCode).toBe(200);
      const res = await svc.call({ method: 'POST', url: PUSH_PATH, headers });
      expect([res.statusCode, codeOf(res)]).toEqual([401, 'proof_replayed']);
    });

    it("another device's attestation: its subject, or a proof by another session, is refused", async () => {
      const svc = await pushService();
      const victim = await enrolledDevice(svc);
      const attacker = await enrolledDevice(svc);
      // Signed by the attacker's key, naming the victim.
      const named = await createAttestation({
        report: report(compliantChecks(Date.now()), Date.now()),
        key: attacker.key,
        audience: APP_AUDIENCE,
        deviceId: victim.deviceId,
      });
      const res = await push(svc.call, named);
      expect([res.statusCode, codeOf(res)]).toEqual([401, 'attestation_subject_mismatch']);
      // The victim's attestation with a proof made by the attacker's session key.
      const theirs = await attestAt(victim, 5);
      const mine = await attestAt(attacker, 5);
      const proof = mine.session.proof('POST', pushUrl(PUBLIC_URL), theirs.token, Date.now());
      const bound = await svc.call({
        method: 'POST',
        url: PUSH_PATH,
        headers: { 'posture-attestation': theirs.token, 'posture-proof': proof },
      });
      expect([bound.statusCode, codeOf(bound)]).toEqual([401, 'binding_cnf_mismatch']);
      // An unenrolled key.
      const stranger = await softwareKey(generatePrivateJwk(), 'keychain', 'x', '');
      const unknown = await push(svc.call, await attestAt({ key: stranger, deviceId: 'dev_x' }, 1));
      expect([unknown.statusCode, codeOf(unknown)]).toEqual([401, 'device_unknown']);
    });

    it("a proof made for another URL (an application's) cannot push: 401 proof_url_mismatch", async () => {
      const svc = await pushService();
      const device = await enrolledDevice(svc);
      const a = await attestAt(device, 5);
      const res = await svc.call({
        method: 'POST',
        url: PUSH_PATH,
        headers: postureHeaders(a, 'POST', APP_URL),
      });
      expect([res.statusCode, codeOf(res)]).toEqual([401, 'proof_url_mismatch']);
    });

    it('oversized or missing headers and an oversized body are refused with codes', async () => {
      const svc = await pushService();
      const device = await enrolledDevice(svc);
      const a = await attestAt(device, 5);
      const big = await push(svc.call, a, PUBLIC_URL, {
        'posture-attestation': `${a.token}${'A'.repeat(9000)}`,
      });
      expect([big.statusCode, codeOf(big)]).toEqual([401, 'header_too_large']);
      const none = await svc.call({ method: 'POST', url: PUSH_PATH });
      expect([none.statusCode, codeOf(none)]).toEqual([401, 'headers_missing']);
      const body = await svc.call({
        method: 'POST',
        url: PUSH_PATH,
        headers: postureHeaders(a, 'POST', pushUrl(PUBLIC_URL)),
        payload: { pad: 'x'.repeat(70 * 1024) },
      });
      expect([body.statusCode, codeOf(body)]).toEqual([413, 'body_too_large']);
    });

    it('a revoked device cannot push: 403 device_revoked', async () => {
      const svc = await pushService();
      const device = await enrolledDevice(svc);
      await svc.call({ method: 'POST', url: `/v1/admin/devices/${device.deviceId}/revoke`, headers: admin });
      const res = await push(svc.call, await attestAt(device, 1));
      expect([res.statusCode, codeOf(res)]).toEqual([403, 'device_revoked']);
    });
  });

  it('with push.heartbeatMaxAgeMinutes a device that has not pushed recently is denied device_stale', async () => {
    let offset = 0;
    const now = () => Date.now() + offset;
    const svc = await pushService({ push: { heartbeatMaxAgeMinutes: 1 } }, now);
    const device = await enrolledDevice(svc);
    const a = await attestAt(device, 1);
    const never = await forwardAuth(svc.call, a);
    expect([never.statusCode, codeOf(never)]).toEqual([403, 'device_stale']);
    expect((await push(svc.call, a)).statusCode).toBe(200);
    expect((await forwardAuth(svc.call, a)).statusCode).toBe(200);
    // Two minutes later (the verifier's clock), with proofs made then: stale until the next heartbeat.
    offset = 120_000;
    const later = (method: string, url: string) => a.session.proof(method, url, a.token, now());
    const stale = await svc.call({
      method: 'GET',
      url: '/v1/forward-auth',
      headers: {
        'posture-attestation': a.token,
        'posture-proof': later('GET', APP_URL),
        'x-original-method': 'GET',
        'x-original-url': APP_URL,
      },
    });
    expect([stale.statusCode, codeOf(stale)]).toEqual([403, 'device_stale']);
    const beat = await svc.call({
      method: 'POST',
      url: PUSH_PATH,
      headers: { 'posture-attestation': a.token, 'posture-proof': later('POST', pushUrl(PUBLIC_URL)) },
    });
    expect(beat.statusCode).toBe(200);
    const fresh = await svc.call({
      method: 'GET',
      url: '/v1/forward-auth',
      headers: {
        'posture-attestation': a.token,
        'posture-proof': later('GET', APP_URL),
        'x-original-method': 'GET',
        'x-original-url': APP_URL,
      },
    });
    expect(fresh.statusCode).toBe(200);
  });
});
