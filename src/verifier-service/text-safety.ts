/**
 * Text that people read in admin listings (labels, enrollment facts) must show what it is: no
 * control characters (C0, DEL, C1) and no bidirectional formatting characters, with which a name
 * could be shown as another (U+061C, U+200E/F, U+202A–U+202E embeddings and overrides, U+2066–U+2069
 * isolates; Trojan Source, CVE-2021-42574).
 */
import { z } from 'zod';

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

export const isDisplaySafe = (text: string): boolean => !UNSAFE.test(text);

/** A string of at most `max` characters with nothing that changes how it, or what follows, is shown. */
export function displayText(max: number) {
  return z
    .string()
    .max(max)
    .refine(isDisplaySafe, 'must not contain control or bidirectional formatting characters');
}
