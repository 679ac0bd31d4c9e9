/**
 * Embedding-space adversarial training and the answer-only loss mask: the one-step perturbation
 * raises the loss by radius * sum_t |g_t| to first order (closed form from the gradient, residual
 * shrinking quadratically), PGD stays inside the per-token ball, the trainer hook's loss is the
 * stated mix, and a prompt/answer example trains only its answer tokens.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useTestBackend } from '../helpers/backend.js';
import { fixtureDir } from '../helpers/fixtures.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { ExampleSource } from '../../src/train/data.js';
import { batchGradients, type MicroBatch } from '../../src/train/step.js';
import { disposeTrainable, makeTrainable } from '../../src/train/trainable.js';
import { registerGradients } from '../../src/engine/gradients.js';
import { embeddingAdversarialHook, embeddingPerturbation, lossOnEmbeds, tokenEmbeds } from '../../src/train/adversarial/embedding.js';
import { answerExample } from '../../src/train/adversarial/data.js';

let models: Model[] = [];
before(async () => {
  await useTestBackend();
  registerGradients();
  models = ['gpt2-tiny', 'llama-tiny'].map((n) => loadModel(fixtureDir(n)));
});
after(() => models.forEach((m) => m.dispose()));

/** Two rows of 6 tokens; row 1 is padded after 4 tokens (mask 0 there). */
function rows(V: number): MicroBatch {
  const ids = [[5, 9, 2, 7, 11, 3], [8, 1, 4, 6, 0, 0]].map((r) => r.map((x) => x % V));
  const targets = [[9, 2, 7, 11, 3, 12], [1, 4, 6, 10, 0, 0]].map((r) => r.map((x) => x % V));
  const mask = [[0, 0, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]];
  return { ids: tf.tensor2d(ids, undefined, 'int32'), targets: tf.tensor2d(targets, undefined, 'int32'), mask: tf.tensor2d(mask), count: 7 };
}

const host = async (t: tf.Tensor) => {
  const d = Array.from(await t.data());
  t.dispose();
  return d;
};

/** Mean L2 norm of the embedding rows, on the host (independent of embedScale). */
async function meanRowNorm(m: Model): Promise<number> {
  const w = await m.params.wte.data();
  const [V, C] = m.params.wte.shape;
  let s = 0;
  for (let v = 0; v < V; v++) {
    let n = 0;
    for (let j = 0; j < C; j++) n += w[v * C + j]! ** 2;
    s += Math.sqrt(n);
  }
  return s / V;
}

describe('embedding perturbation', () => {
  for (const name of ['gpt2-tiny', 'llama-tiny']) {
    it(`${name}: one step raises the loss by radius * sum_t |g_t| to first order`, async () => {
      const m = models[name === 'gpt2-tiny' ? 0 : 1]!;
      const c = m.config;
      const r = rows(c.vocabSize);
      const e = tokenEmbeds(m.params, r.ids);
      const l0 = (await host(lossOnEmbeds(c, m.params, e, r)))[0]!;
      const g = tf.grad((x: tf.Tensor) => lossOnEmbeds(c, m.params, x as tf.Tensor3D, r))(e);
      const gRows = await host(tf.sqrt(tf.sum(tf.square(g), -1))); // [B T]
      g.dispose();
      const sumNorms = gRows.reduce((a, b) => a + b, 0);
      assert.ok(sumNorms > 0);
      // padded positions 4, 5 of row 1 have no influence on the loss: exact zero gradient
      assert.equal(gRows[10], 0);
      assert.equal(gRows[11], 0);
      const scale = await meanRowNorm(m);
      const residual: number[] = [];
      for (const eps of [2e-3, 1e-3]) {
        const d = embeddingPerturbation(c, m.params, r, { epsilon: eps, steps: 1 });
        const dn = await host(tf.sqrt(tf.sum(tf.square(d), -1)));
        const radius = eps * scale;
        dn.forEach((n, i) => assert.ok(gRows[i]! > 0 ? Math.abs(n - radius) < 1e-4 * radius : n === 0, `row ${i}: |delta| ${n}, radius ${radius}`));
        const pert = tf.add(e, d) as tf.Tensor3D;
        const l1 = (await host(lossOnEmbeds(c, m.params, pert, r)))[0]!;
        pert.dispose();
        d.dispose();
        const predicted = radius * sumNorms;
        const rel = (l1 - l0) / predicted;
        assert.ok(Math.abs(rel - 1) < 0.05, `eps ${eps}: increase ${l1 - l0} vs first-order ${predicted} (ratio ${rel})`);
        residual.push(l1 - l0 - predicted);
      }
      // second-order remainder: halving the radius divides it by about 4 (not 2)
      const q = residual[0]! / residual[1]!;
      assert.ok(q > 2.5 && q < 6, `residual ratio ${q} (${residual.join(', ')})`);
      e.dispose();
      tf.dispose([r.ids, r.targets, r.mask]);
    });
  }

  it('PGD stays inside the per-token ball and raises the loss more than nothing', async () => {
    const m = models[1]!;
    const r = rows(m.config.vocabSize);
    const before = tf.memory().numTensors;
    const d = embeddingPerturbation(m.config, m.params, r, { epsilon: 0.5, steps: 4 });
    assert.equal(tf.memory().numTensors, before + 1, 'only the perturbation survives');
    const radius = 0.5 * (await meanRowNorm(m));
    const dn = await host(tf.sqrt(tf.sum(tf.square(d), -1)));
    for (const n of dn) assert.ok(n <= radius * (1 + 1e-5), `|delta| ${n} > radius ${radius}`);
    const e = tokenEmbeds(m.params, r.ids);
    const l0 = (await host(lossOnEmbeds(m.config, m.params, e, r)))[0]!;
    const pe = tf.add(e, d) as tf.Tensor3D;
    const l1 = (await host(lossOnEmbeds(m.config, m.params, pe, r)))[0]!;
    assert.ok(l1 > l0 + 1e-3, `PGD loss ${l1} vs clean ${l0}`);
    tf.dispose([e, d, pe, r.ids, r.targets, r.mask]);
  });

  it('the trainer hook computes (1 - w) clean + w perturbed loss', async () => {
    const m = models[0]!;
    const c = m.config;
    const r = rows(c.vocabSize);
    for (const w of [0, 0.3, 1]) {
      const hook = embeddingAdversarialHook({ epsilon: 0.2, steps: 2, weight: w });
      const got = (await host(tf.tidy(() => hook.prepare(c, m.params, r)())))[0]!;
      const d = embeddingPerturbation(c, m.params, r, { epsilon: 0.2, steps: 2 });
      const e = tokenEmbeds(m.params, r.ids);
      const pe = tf.add(e, d) as tf.Tensor3D;
      const clean = (await host(lossOnEmbeds(c, m.params, e, r)))[0]!;
      const adv = (await host(lossOnEmbeds(c, m.params, pe, r)))[0]!;
      tf.dispose([d, e, pe]);
      assert.ok(Math.abs(got - ((1 - w) * clean + w * adv)) < 1e-5, `w ${w}: ${got} vs ${(1 - w) * clean + w * adv}`);
    }
    assert.equal(hook0Describe().kind, 'embedding-pgd');
    tf.dispose([r.ids, r.targets, r.mask]);
  });

  it('refuses bad options', () => {
    assert.throws(() => embeddingAdversarialHook({ epsilon: -1, steps: 1 }), /epsilon/);
    assert.throws(() => embeddingAdversarialHook({ epsilon: 0.1, steps: 0 }), /steps/);
    assert.throws(() => embeddingAdversarialHook({ epsilon: 0.1, steps: 1, weight: 2 }), /weight/);
  });
});

function hook0Describe(): Record<string, unknown> {
  return embeddingAdversarialHook({ epsilon: 0.1, steps: 1 }).describe();
}

describe('answer-only loss mask', () => {
  it('a prompt/answer example trains only its answer tokens', async () => {
    const m = models[1]!;
    const c = m.config;
    const prompt = [1, 17, 23, 5, 40, 9];
    const answer = [33, 12];
    const ex = answerExample(prompt, answer);
    assert.deepEqual(ex.lossMask, [0, 0, 0, 0, 0, 0, 1, 1]);
    const batch = new ExampleSource([ex], { seed: 0, mode: 'pad', padId: 0 }).next(1, 9);
    // targets with mask 1 are exactly the answer tokens, at the positions that predict them
    const trained = [...batch.mask.keys()].filter((i) => batch.mask[i] === 1);
    assert.deepEqual(trained, [5, 6]);
    assert.deepEqual(trained.map((i) => batch.targets[i]), answer);
    assert.equal(batch.count, 2);

    const tr = makeTrainable(c, m.params);
    const grads = async (b: typeof batch) => {
      const g = batchGradients(c, tr, b, 1);
      const out = new Map<string, Float32Array>();
      for (const [k, t] of Object.entries(g.grads)) out.set(k, (await t.data()) as Float32Array);
      tf.dispose([g.loss, ...Object.values(g.grads)]);
      return out;
    };
    try {
      const g0 = await grads(batch);
      // changing what the prompt positions would predict changes nothing: they are not trained
      const other = { ...batch, targets: batch.targets.map((t, i) => (batch.mask[i] ? t : (t + 7) % c.vocabSize)) };
      const g1 = await grads(other);
      for (const [k, a] of g0) assert.deepEqual(g1.get(k), a, `${k} changed with a prompt target`);
      // changing an answer token does change the gradient (the check can fail)
      const flipped = { ...batch, targets: batch.targets.map((t, i) => (i === 6 ? (t + 1) % c.vocabSize : t)) };
      const g2 = await grads(flipped);
      assert.ok([...g0].some(([k, a]) => a.some((x, j) => x !== g2.get(k)![j])), 'answer token must matter');
    } finally {
      disposeTrainable(tr);
    }
  });
});
