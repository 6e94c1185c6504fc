import { compareVersions, parseVersion } from '../../src/shared/version.js';

describe('parseVersion', () => {
  it.each([
    ['13.5.1', [13, 5, 1]],
    ['10.0.22631.4317', [10, 0, 22631, 4317]],
    ['22.04.3 LTS', [22, 4, 3]],
    ['6.1.0-18-amd64', [6, 1, 0]],
    ['12', [12]],
    ['v20.20.2', [20, 20, 2]],
  ])('parses %s', (text, expected) => {
    expect(parseVersion(text)).toEqual(expected);
  });

  it.each(['', 'bookworm', 'rolling', '.5', '99999999999999999999'])('refuses %p', (text) => {
    expect(parseVersion(text)).toBeNull();
  });
});

describe('compareVersions', () => {
  it('compares numerically, not as strings', () => {
    expect(compareVersions([9], [14])).toBe(-1);
    expect(compareVersions([14, 0], [9, 9])).toBe(1);
    expect(compareVersions([10, 0, 19045], [10, 0, 26100])).toBe(-1);
  });

  it('treats missing trailing parts as zero', () => {
    expect(compareVersions([12], [12, 0, 0])).toBe(0);
    expect(compareVersions([12, 0, 1], [12])).toBe(1);
  });
});
