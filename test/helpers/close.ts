/**
 * Tolerance checks for tensors against references: |a - e| <= atol + rtol |e| elementwise
 * (torch.testing.assert_close semantics), reporting the worst element when it fails.
 */
import assert from 'node:assert/strict';

export interface Tol {
  atol: number;
  rtol: number;
}

/** float32 forward tolerances (RELIABILITY.md §3.2), loosened for sums over small models. */
export const F32: Tol = { atol: 1e-4, rtol: 1e-4 };

export function assertClose(label: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tol = F32): void {
  assert.equal(actual.length, expected.length, `${label}: length ${actual.length} != expected ${expected.length}`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    const excess = Math.abs(a - e) - (tol.atol + tol.rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    assert.fail(`${label}: element ${worst} is ${actual[worst]} but expected ${expected[worst]} (atol ${tol.atol}, rtol ${tol.rtol})`);
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
