/**
 * Suites that drive a real part (a network namespace, gnome-keyring, swtpm, PostgreSQL, nginx…) run
 * only where that part exists. On a developer's machine without it they are skipped, with a line
 * saying so; in CI (`process.env.CI` set) a missing part is a failing test, never a silent skip,
 * because CI installs every part through scripts/test.sh and a missing one means the suite proved nothing.
 */

/** Whether a missing real part must fail the run rather than skip (CI). */
export function mustHaveRealParts(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.CI);
}

/**
 * `describe` when `available`; otherwise `describe.skip`, and in CI also one failing test named
 * for the missing part. Use as `describeWith('swtpm and tpm2-tools', swtpmAvailable())('…', () => …)`.
 */
export function describeWith(part: string, available: boolean): jest.Describe {
  if (available) return describe;
  reportMissing(part);
  return describe.skip;
}

/** The same for one test: `itWith('/dev/full', existsSync('/dev/full'))('…', async () => …)`. */
export function itWith(part: string, available: boolean): jest.It {
  if (available) return it;
  reportMissing(part);
  return it.skip;
}

function reportMissing(part: string): void {
  if (mustHaveRealParts()) {
    it(`needs ${part}, which this CI machine lacks (scripts/test.sh installs it)`, () => {
      throw new Error(`${part} is missing: CI must run the real-part tests, not skip them`);
    });
  } else {
    console.warn(`skipping tests that need ${part}: not available here`);
  }
}
