import { generateKeyPairSync, sign, verify } from 'node:crypto';
import fc from 'fast-check';
import { derToJose, joseToDer } from '../../src/keys/der.js';

describe('DER ⇄ JOSE ECDSA signatures', () => {
  it('converts real DER signatures from OpenSSL so they verify as IEEE P1363', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    for (let i = 0; i < 200; i++) {
      const data = Buffer.from(`message ${i}`);
      const der = sign('sha256', data, privateKey);
      const raw = derToJose(der);
      expect(raw).toHaveLength(64);
      expect(verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, raw)).toBe(true);
      expect(Buffer.from(joseToDer(raw))).toEqual(der);
    }
  });

  it('pads short integers and strips sign bytes', () => {
    // r = 0x01 (one byte), s = 0x80 followed by 31 bytes (needs a 0x00 sign byte in DER).
    const s = new Uint8Array(32).fill(0x11);
    s[0] = 0x80;
    const der = new Uint8Array([0x30, 3 + 2 + 33, 0x02, 0x01, 0x01, 0x02, 0x21, 0x00, ...s]);
    const raw = derToJose(der);
    expect(raw.subarray(0, 31).every((b) => b === 0)).toBe(true);
    expect(raw[31]).toBe(1);
    expect(Buffer.from(raw.subarray(32))).toEqual(Buffer.from(s));
  });

  it.each([
    ['empty', []],
    ['not a sequence', [0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]],
    ['length mismatch', [0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]],
    ['truncated', [0x30, 0x06, 0x02, 0x01, 0x01, 0x02]],
    ['trailing bytes', [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00]],
    ['integer too large', [0x30, 0x26, 0x02, 0x21, 0x01, ...new Array(32).fill(1), 0x02, 0x01, 0x01]],
  ])('refuses %s', (_name, bytes) => {
    expect(() => derToJose(new Uint8Array(bytes))).toThrow(RangeError);
  });

  it('never accepts random bytes as anything but a RangeError or a 64-byte signature', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        try {
          expect(derToJose(bytes)).toHaveLength(64);
        } catch (error) {
          expect(error).toBeInstanceOf(RangeError);
        }
      }),
    );
  });
});
