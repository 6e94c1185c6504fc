/**
 * Replay fairness through the service: one enrolled device that sends more proofs than its share
 * is refused alone (429 replay_quota_exceeded); every other device goes on being allowed. And the
 * configuration of the share.
 */
import { postureHeaders } from '../../src/attest/headers.js';
import { MemoryReplayStore } from '../../src/verifier/replay.js';
import { enrolledDevice } from '../helpers/enrolled-device.js';
import { serviceConfig, testService } from '../helpers/service.js';

const URL_ = 'https://app.example.com/api/items';

describe('replay fairness', () => {
  it('a device past its share gets 429 replay_quota_exceeded; another device is still allowed', async () => {
    const svc = await testService({ replay: new MemoryReplayStore(1000, 120_000, 20) });
    const greedy = await enrolledDevice(svc);
    const other = await enrolledDevice(svc);
    const ask = async (device: typeof greedy) =>
      svc.call({
        method: 'GET',
        url: '/v1/forward-auth',
        headers: {
          ...postureHeaders(await device.attest(), 'GET', URL_),
          'x-original-method': 'GET',
          'x-original-url': URL_,
        },
      });
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await ask(greedy)).statusCode);
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.slice(20).every((s) => s === 429)).toBe(true);
    const refused = await ask(greedy);
    expect(refused.json().reasons[0].code).toBe('replay_quota_exceeded');
    const allowed = await ask(other);
    expect(allowed.statusCode).toBe(200);
  });

  it('replay.perDeviceCapacity is configurable for memory and Redis, and at least 100', () => {
    const memory = serviceConfig({ replay: { type: 'memory', capacity: 10_000, perDeviceCapacity: 500 } });
    expect(memory.replay).toMatchObject({ type: 'memory', perDeviceCapacity: 500 });
    const redis = serviceConfig({ replay: { type: 'redis', url: 'redis://127.0.0.1:1' } });
    expect(redis.replay).toMatchObject({ type: 'redis', perDeviceCapacity: 100_000 });
    expect(() => serviceConfig({ replay: { type: 'memory', perDeviceCapacity: 5 } })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }),
    );
  });
});
