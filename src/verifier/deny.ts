/** A denial with its stable reason code, thrown inside verifyRequest and turned into a Decision. */
import type { ReasonCode } from './reasons.js';
import type { DecisionDevice } from './verify-request.js';

export class Deny {
  constructor(
    readonly code: ReasonCode,
    readonly detail?: string,
    /** The enrolled device the denial is about, once it is known (revoked, locked): for the log. */
    readonly device?: DecisionDevice,
  ) {}
}
