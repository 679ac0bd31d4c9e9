/**
 * The shared stories260K checkpoint (converted from llama2.c) must reproduce the greedy ids that
 * llama2.c's own C implementation produced: GQA, RoPE, RMSNorm, SwiGLU and the tied head, checked
 * against an implementation we did not write.
 */
import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useTestBackend } from '../helpers/backend.js';
import { STORIES_DIR } from '../helpers/fixtures.js';
import { loadModel } from '../../src/model/model.js';
import { generate } from '../../src/model/generate.js';

before(async () => {
  await useTestBackend();
});

it('stories260K greedy decoding equals llama2.c run.c exactly, and leaks no tensors', async () => {
  const ref = JSON.parse(readFileSync(join(STORIES_DIR, 'reference.json'), 'utf8')) as { prompt_ids: number[]; greedy_ids: number[] };
  const model = loadModel(STORIES_DIR);
  const before = tf.memory().numTensors;
  const res = await generate(model, ref.prompt_ids, { maxNewTokens: ref.greedy_ids.length, stopAtEos: false });
  assert.deepEqual(res.generated, ref.greedy_ids);
  assert.equal(tf.memory().numTensors, before, 'tensors leaked by generation');
  model.dispose();
});
