/**
 * How many embedding rows one forward+backward may hold at once under a memory budget.
 *
 * The per-row estimate counts float32 activations kept for the backward pass plus its transient
 * gradients, per layer: ~60 [T, C] + 30 [T, M] (40 gated) + 40 [H, T, T] tensors, plus the
 * unembedded rows. Constants were fitted to tf.memory() peaks of a GPT-2-small-shaped model
 * (516 MB per extra row at T = 64). Non-goals: exact accounting; the weights are not counted.
 */
import type { ModelConfig } from '../../formats/config.js';

// LIMITATION: an estimate, not a measurement: the real peak depends on the backend's kernels (the
// native backend copies saved weights, WASM reuses them) and is not capped at run time.
export const DEFAULT_MEMORY_MB = 1024;

/** Estimated bytes per row of a forward(+backward) over T positions with G objective rows. */
export function bytesPerRow(c: ModelConfig, T: number, G: number, backward = true): number {
  const perLayer = 60 * T * c.dModel + (c.gatedMlp ? 40 : 30) * T * c.dMlp + 40 * c.nHeads * T * T;
  const floats = c.nLayers * perLayer + 4 * G * c.vocabSize;
  return 4 * floats * (backward ? 1 : 0.4);
}

/** Rows per batch: at least 1, at most `rows`. */
export function rowsPerBatch(c: ModelConfig, T: number, G: number, rows: number, memoryMB = DEFAULT_MEMORY_MB, backward = true): number {
  const fit = Math.floor((memoryMB * 1024 * 1024) / bytesPerRow(c, T, G, backward));
  return Math.max(1, Math.min(rows, fit));
}
