/**
 * One error base class with a stable `code`; one subclass per kind of failure.
 * Callers and tests branch on `code`, never on the message. Messages say what to do.
 */
export class PostureError extends Error {
  /** Stable, documented identifier of the failure. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A policy document that cannot be used; `issues` names each bad field. */
export class PolicyInvalidError extends PostureError {
  readonly issues: readonly { path: string; message: string }[];

  constructor(issues: readonly { path: string; message: string }[], source = 'policy') {
    const lines = issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`).join('\n');
    super(
      'ERR_POLICY_INVALID',
      `${source} is not a valid posture policy:\n${lines}\nFix the fields above and try again.`,
    );
    this.issues = issues;
  }
}

/** A capture file (see docs/capture-format.md) that cannot be replayed. */
export class CaptureInvalidError extends PostureError {
  constructor(message: string) {
    super('ERR_CAPTURE_INVALID', message);
  }
}

/** A configuration value that cannot be used. */
export class ConfigInvalidError extends PostureError {
  constructor(message: string) {
    super('ERR_CONFIG_INVALID', message);
  }
}
