/**
 * The dimension vocabulary used across llmdbg, in one place.
 *
 * Kernels and model code use the letters in trailing shape comments (`// [B, T, C]`);
 * public types, JSON results and picture axes use the words, from the same table.
 */

export const DIMS = {
  B: 'batch',
  T: 'pos', // sequence position (query position inside attention)
  S: 'key_pos', // key/value position inside attention (T plus the cached past)
  C: 'd_model',
  H: 'head', // query heads
  K: 'kv_head', // key/value heads (grouped-query attention: H is a multiple of K)
  D: 'd_head',
  M: 'd_mlp',
  V: 'd_vocab',
  L: 'layer',
} as const;

export type DimLetter = keyof typeof DIMS;
export type DimName = (typeof DIMS)[DimLetter];
