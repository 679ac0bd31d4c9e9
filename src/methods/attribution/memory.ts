/**
 * How many embedding rows one forward+backward may hold at once under a memory budget.
 *
 * The per-row estimate counts float32 activations kept for the backward pass plus its transient
 * gradients, per layer: ~15 [T, C] + 7.5 [T, M] (10 gated) + 10 [H, T, T] tensors, plus the
 * unembedded rows: 129 MB per row for a GPT-2-small-shaped model at T = 64. Measured peak RSS per
 * extra row of a 32-step integrated-gradients run there: 95 MB (native), 122 MB (WASM). (The
 * first fit, 4x these constants, predates the lean backward, which frees saved tensors as the
 * backward passes them; it held GPT-2-small IG to 2 rows per pass, 7.2 s against 6.1 s at 8.)
 * Forward-only passes keep the first fit (0.4 of it; adversarial candidate scoring).
 * Non-goals: exact accounting; the weights are not counted.
 */
import type { ModelConfig } from '../../formats/config.js';

// LIMITATION: an estimate, not a measurement: the real peak depends on the backend's kernels (the
// native backend copies saved weights, WASM reuses them) and is not capped at run time.
export const DEFAULT_MEMORY_MB = 1024;

/** Estimated bytes per row of a forward(+backward) over T positions with G objective rows. */
export function bytesPerRow(c: ModelConfig, T: number, G: number, backward = true): number {
  const perLayer = 60 * T * c.dModel + (c.gatedMlp ? 40 : 30) * T * c.dMlp + 40 * c.nHeads * T * T;
  if (!backward) return 4 * 0.4 * (c.nLayers * perLayer + 4 * G * c.vocabSize);
  return 4 * (c.nLayers * perLayer / 4 + 4 * G * c.vocabSize);
}

/** Rows per batch: at least 1, at most `rows`. */
export function rowsPerBatch(c: ModelConfig, T: number, G: number, rows: number, memoryMB = DEFAULT_MEMORY_MB, backward = true): number {
  const fit = Math.floor((memoryMB * 1024 * 1024) / bytesPerRow(c, T, G, backward));
  return Math.max(1, Math.min(rows, fit));
}
