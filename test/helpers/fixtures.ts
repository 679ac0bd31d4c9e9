/**
 * Paths and readers for committed fixtures: the PyTorch reference models written by
 * tools/make_fixtures.py and the shared llama2.c checkpoint.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const FIXTURE_MODELS = join(ROOT, 'test', 'fixtures', 'models');
export const STORIES_DIR = join(ROOT, '..', 'shared', 'models', 'stories260K-llama2c');

export interface GoldenTensor {
  shape: number[];
  data: number[];
}

export interface Golden {
  model: string;
  ids: number[][];
  batch_ids: number[][];
  logits: GoldenTensor;
  batch_logits: GoldenTensor;
  hooks: Record<string, GoldenTensor>;
  greedy: { prompt: number[]; new_tokens: number; ids: number[] };
  saliency: {
    target_id: number;
    logprob: number;
    grad_embed: GoldenTensor;
    integrated_gradients: { method: string; n_steps: number; baseline: string; ig_trapezoid_16: GoldenTensor; f_input: number; f_baseline: number };
  };
  patching?: {
    clean_ids: number[][];
    corrupt_ids: number[][];
    clean_last_logits: GoldenTensor;
    corrupt_last_logits: GoldenTensor;
    resid_pre_patch_last_logits: GoldenTensor;
    ablate_L0H1_last_logits: GoldenTensor;
  };
}

export function fixtureNames(): string[] {
  return readdirSync(FIXTURE_MODELS).sort();
}

export function fixtureDir(name: string): string {
  return join(FIXTURE_MODELS, name);
}

export function golden(name: string): Golden {
  return JSON.parse(readFileSync(join(FIXTURE_MODELS, name, 'golden.json'), 'utf8')) as Golden;
}
