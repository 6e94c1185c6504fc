/**
 * Real parts the daemon's tests drive, and the rule for a missing one: skip with a warning on a
 * developer's machine, fail under CI (a real-part test must never pass by not running).
 */
import { accessSync, constants } from 'node:fs';
import { describeWith } from '../../helpers/real-part.js';

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `describe` when the part is there; else a suite that fails under CI and skips elsewhere. */
export function describeWithPart(available: boolean, what: string): jest.Describe {
  return describeWith(what, available);
}
