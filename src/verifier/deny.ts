/** A denial with its stable reason code, thrown inside verifyRequest and turned into a Decision. */
import type { ReasonCode } from './reasons.js';

export class Deny {
  constructor(
    readonly code: ReasonCode,
    readonly detail?: string,
  ) {}
}
