/**
 * Load-time scan of a checkpoint's weights: NaN, +Inf, -Inf, zeros and subnormal values per stored
 * tensor, under the checkpoint's own names. Subnormal is judged against the STORED dtype (an F16
 * weight below 2^-14 is subnormal even though float32 holds it as a normal number).
 * Reads one tensor at a time from the files (single or sharded), independently of the loaded model.
 * LIMITATION: F64 weights are widened to float32 before scanning, so F64-only subnormals show as zeros.
 */
import { findWeightFiles } from '../../formats/unsafe-formats.js';
import { openSafetensors, type TensorStore } from '../../formats/safetensors.js';
import { openSafetensorsIndex } from '../../formats/safetensors-index.js';
import { F16_MIN_NORMAL, F32_MIN_NORMAL } from './stats.js';

export interface WeightHealth {
  name: string;
  dtype: string;
  shape: number[];
  size: number;
  nanCount: number;
  posInfCount: number;
  negInfCount: number;
  zeroCount: number;
  subnormalCount: number;
  /** Largest finite |x| (0 for an empty or all-non-finite tensor). */
  absMax: number;
}

export interface WeightScan {
  file: string;
  tensors: WeightHealth[];
  /** Names of tensors holding a NaN or an infinity, in file order. */
  nonFinite: string[];
  /** Names of tensors holding subnormal values, in file order. */
  subnormal: string[];
  totals: { tensors: number; values: number; nanCount: number; infCount: number; subnormalCount: number };
  info: { method: 'weight-scan'; durationMs: number };
}

const FLOAT_DTYPES = new Set(['F16', 'BF16', 'F32', 'F64', 'F8_E5M2', 'F8_E4M3']);

function minNormal(dtype: string): number {
  if (dtype === 'F16') return F16_MIN_NORMAL;
  if (dtype === 'F8_E5M2') return 2 ** -14;
  if (dtype === 'F8_E4M3') return 2 ** -6;
  return F32_MIN_NORMAL;
}

export function scanTensor(name: string, dtype: string, shape: readonly number[], data: ArrayLike<number>): WeightHealth {
  const lim = FLOAT_DTYPES.has(dtype) ? minNormal(dtype) : 0;
  let nan = 0, pinf = 0, ninf = 0, zeros = 0, sub = 0, absMax = 0;
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    if (x !== x) nan++;
    else if (x === Infinity) pinf++;
    else if (x === -Infinity) ninf++;
    else if (x === 0) zeros++;
    else {
      const a = x < 0 ? -x : x;
      if (a < lim) sub++;
      if (a > absMax) absMax = a;
    }
  }
  return { name, dtype, shape: [...shape], size: data.length, nanCount: nan, posInfCount: pinf, negInfCount: ninf, zeroCount: zeros, subnormalCount: sub, absMax };
}

/** Scans every tensor of the model folder (or weights file) `dir`. */
export function scanWeights(dir: string, onProgress?: (done: number, total: number) => void): WeightScan {
  const t0 = performance.now();
  const files = findWeightFiles(dir);
  const store: TensorStore = files.kind === 'single' ? openSafetensors(files.path) : openSafetensorsIndex(files.indexPath);
  const tensors: WeightHealth[] = [];
  try {
    const names = store.names();
    names.forEach((name, i) => {
      const t = store.read(name);
      tensors.push(scanTensor(name, t.dtype, t.shape, t.data));
      onProgress?.(i + 1, names.length);
    });
  } finally {
    store.close();
  }
  const totals = { tensors: tensors.length, values: 0, nanCount: 0, infCount: 0, subnormalCount: 0 };
  for (const t of tensors) {
    totals.values += t.size;
    totals.nanCount += t.nanCount;
    totals.infCount += t.posInfCount + t.negInfCount;
    totals.subnormalCount += t.subnormalCount;
  }
  return {
    file: store.path,
    tensors,
    nonFinite: tensors.filter((t) => t.nanCount + t.posInfCount + t.negInfCount > 0).map((t) => t.name),
    subnormal: tensors.filter((t) => t.subnormalCount > 0).map((t) => t.name),
    totals,
    info: { method: 'weight-scan', durationMs: Math.round(performance.now() - t0) },
  };
}
