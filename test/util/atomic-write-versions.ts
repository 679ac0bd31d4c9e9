/**
 * Deterministic file versions for the atomic-write tests: version k is a first line `v<k>` followed by a
 * k-dependent byte pattern, so any file can be checked to be exactly one complete version.
 * Non-goals: realism of content.
 */

export function versionContent(k: number, size: number): Uint8Array {
  const head = Buffer.from(`v${k}\n`);
  const out = Buffer.alloc(size);
  head.copy(out);
  for (let i = head.length; i < size; i++) out[i] = (i * 31 + k * 17) & 0xff;
  return out;
}

/** The version number when `bytes` is exactly a complete version of `size` bytes, else null. */
export function whichVersion(bytes: Uint8Array, size: number): number | null {
  const m = /^v(\d+)\n/.exec(Buffer.from(bytes.subarray(0, 24)).toString('latin1'));
  if (!m) return null;
  const k = Number(m[1]);
  return Buffer.from(bytes).equals(Buffer.from(versionContent(k, size))) ? k : null;
}
