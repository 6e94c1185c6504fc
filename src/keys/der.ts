/**
 * ECDSA signatures: TPMs, CNG and Security.framework hand back ASN.1 DER
 * (SEQUENCE { INTEGER r, INTEGER s }); JWS wants the raw big-endian r‖s, each padded to the
 * curve size (RFC 7518 §3.4: 32 bytes each for P-256).
 */
export function derToJose(der: Uint8Array, size = 32): Uint8Array {
  let i = 0;
  const byte = () => {
    const b = der[i++];
    if (b === undefined) throw new RangeError('DER signature is truncated');
    return b;
  };
  const length = () => {
    const first = byte();
    if (first < 0x80) return first;
    const count = first & 0x7f;
    if (count === 0 || count > 2) throw new RangeError('DER length is not supported');
    let value = 0;
    for (let k = 0; k < count; k++) value = (value << 8) | byte();
    return value;
  };
  if (byte() !== 0x30) throw new RangeError('DER signature is not a SEQUENCE');
  const seqLength = length();
  if (seqLength !== der.length - i) throw new RangeError('DER SEQUENCE length does not match');
  const integer = () => {
    if (byte() !== 0x02) throw new RangeError('DER signature part is not an INTEGER');
    const len = length();
    if (len === 0 || i + len > der.length) throw new RangeError('DER INTEGER length is wrong');
    let bytes = der.subarray(i, i + len);
    i += len;
    while (bytes.length > 1 && bytes[0] === 0) bytes = bytes.subarray(1); // strip sign padding
    if (bytes.length > size) throw new RangeError('DER INTEGER is larger than the curve');
    const out = new Uint8Array(size);
    out.set(bytes, size - bytes.length);
    return out;
  };
  const r = integer();
  const s = integer();
  if (i !== der.length) throw new RangeError('DER signature has trailing bytes');
  const raw = new Uint8Array(size * 2);
  raw.set(r, 0);
  raw.set(s, size);
  return raw;
}

/** The inverse, for tests and for helpers that want DER. */
export function joseToDer(raw: Uint8Array, size = 32): Uint8Array {
  if (raw.length !== size * 2) throw new RangeError(`raw signature must be ${size * 2} bytes`);
  const int = (part: Uint8Array) => {
    let start = 0;
    while (start < part.length - 1 && part[start] === 0) start++;
    const body = part.subarray(start);
    const pad = (body[0] ?? 0) & 0x80 ? 1 : 0;
    const out = new Uint8Array(2 + pad + body.length);
    out[0] = 0x02;
    out[1] = pad + body.length;
    out.set(body, 2 + pad);
    return out;
  };
  const r = int(raw.subarray(0, size));
  const s = int(raw.subarray(size));
  const out = new Uint8Array(2 + r.length + s.length);
  out[0] = 0x30;
  out[1] = r.length + s.length;
  out.set(r, 2);
  out.set(s, 2 + r.length);
  return out;
}
