/**
 * Device inventory (model, serial, hardware id) from `systeminformation`, which knows how each OS
 * exposes them. Best effort and time-boxed: inventory never decides posture.
 */
import type { DeviceInventory } from '../shared/posture.js';

export async function collectInventory(timeoutMs: number): Promise<DeviceInventory> {
  const work = (async () => {
    const si = await loadSystemInformation();
    const [system, os, uuid] = await Promise.allSettled([si.system(), si.osInfo(), si.uuid()]);
    const inv: DeviceInventory = {};
    if (os.status === 'fulfilled') {
      setIf(inv, 'hostname', os.value.hostname);
      setIf(inv, 'osPlatform', os.value.platform);
      setIf(inv, 'arch', os.value.arch);
    }
    if (system.status === 'fulfilled') {
      setIf(inv, 'manufacturer', system.value.manufacturer);
      setIf(inv, 'model', system.value.model);
      setIf(inv, 'serial', system.value.serial);
      setIf(inv, 'hardwareUuid', system.value.uuid);
    }
    if (!inv.hardwareUuid && uuid.status === 'fulfilled') setIf(inv, 'hardwareUuid', uuid.value.hardware);
    return inv;
  })();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<DeviceInventory>((resolve) => {
    timer = setTimeout(() => resolve({}), timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** systeminformation (~10 MB once loaded), imported when the inventory is first asked for. */
async function loadSystemInformation() {
  return (await import('systeminformation')).default;
}

/** systeminformation reports "" or placeholder text where a value is absent; keep only real values. */
function setIf(inv: DeviceInventory, key: keyof DeviceInventory, value: string | undefined): void {
  const v = value?.trim();
  if (
    !v ||
    v === '-' ||
    /^(default string|to be filled by o\.e\.m\.|not specified|system serial number)$/i.test(v)
  )
    return;
  inv[key] = v;
}
