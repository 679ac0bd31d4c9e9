/**
 * The registered gradients (src/train/gradients.ts): the whole backward pass of every fixture
 * architecture against PyTorch's saliency gradient (golden grad_embed), single kernels against
 * central finite differences, the embedding gather's gradient (the WASM UnsortedSegmentSum
 * fallback) against a host scatter-add and the cpu backend, and the WASM explicit-transpose
 * BatchMatMul against the cpu backend for every transpose combination.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useTestBackend } from '../helpers/backend.js';
import { assertClose } from '../helpers/close.js';
import { fixtureDir, fixtureNames, golden } from '../helpers/fixtures.js';
import { loadModel } from '../../src/model/model.js';
import { Rng } from '../../src/engine/rng.js';
import { registerGradients } from '../../src/engine/gradients.js';
import { registerFastWasmMatMul } from '../../src/engine/wasm-matmul.js';

let backend = 'wasm';
before(async () => {
  backend = (await useTestBackend()).name;
  registerGradients();
  registerFastWasmMatMul();
});

function rand(shape: number[], seed: number, lo = -1, hi = 1): tf.Tensor {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.float()), shape);
}

/** Gradient of sum(f(x) * w) (w fixed random) vs central differences, element by element. */
function checkFd(label: string, f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, h = 1e-2, tol = 2e-3): void {
  const w = tf.tidy(() => rand(f(x).shape, 99));
  const scalar = (t: tf.Tensor) => tf.sum(tf.mul(f(t), w));
  const gT = tf.tidy(() => tf.grad(scalar)(x));
  const g = gT.dataSync();
  gT.dispose();
  const xs = x.dataSync();
  const fd = new Float32Array(xs.length);
  for (let i = 0; i < xs.length; i++) {
    const at = (d: number) => tf.tidy(() => { const v = Float32Array.from(xs); v[i] = v[i]! + d; return scalar(tf.tensor(v, x.shape)).dataSync()[0]!; });
    fd[i] = (at(h) - at(-h)) / (2 * h);
  }
  assertClose(label, g, fd, { atol: tol, rtol: tol });
  w.dispose();
}

describe('whole backward pass vs PyTorch (saliency gradient d logprob / d hook_embed)', () => {
  for (const name of fixtureNames()) {
    it(name, async () => {
      const g = golden(name);
      const m = loadModel(fixtureDir(name));
      const ids = g.ids[0]!;
      const grad = tf.tidy(() => {
        const embeds = tf.gather(m.params.wte, tf.tensor2d(ids, [1, ids.length], 'int32')) as unknown as tf.Tensor3D;
        return tf.grad((e: tf.Tensor) => {
          const l = m.forward({ embeds: e as tf.Tensor3D }, { logits: 'last' }).logits!;
          return tf.reshape(tf.slice(tf.logSoftmax(tf.reshape(l, [1, -1])), [0, g.saliency.target_id], [1, 1]), []);
        })(embeds);
      });
      assert.deepEqual(grad.shape, g.saliency.grad_embed.shape);
      assertClose(`${name} grad_embed`, await grad.data(), g.saliency.grad_embed.data, { atol: 1e-4, rtol: 1e-3 });
      grad.dispose();
      m.dispose();
    });
  }
});

describe('single kernels vs central finite differences', () => {
  // values kept >= 0.1 away from every kink used below (0, 0.3, -0.2, +-0.5)
  const x = () => tf.tensor2d([[-1.3, -0.7, -0.35], [0.15, 0.8, 1.2]]);
  const cases: [string, (t: tf.Tensor) => tf.Tensor, (() => tf.Tensor)?][] = [
    ['add/sub/mul/div with broadcasting', (t) => tf.div(tf.sub(tf.mul(t, rand([3], 2)), rand([2, 1], 3)), tf.add(tf.square(t), 1))],
    ['pow (tensor exponent)', (t) => tf.pow(tf.add(tf.abs(t), 0.5), t)],
    ['exp, log, sqrt, rsqrt, reciprocal', (t) => tf.add(tf.add(tf.exp(t), tf.log(tf.add(tf.square(t), 1))), tf.add(tf.sqrt(tf.add(tf.square(t), 1)), tf.add(tf.rsqrt(tf.add(tf.square(t), 2)), tf.reciprocal(tf.add(tf.square(t), 1)))))],
    ['tanh, sigmoid, erf, relu', (t) => tf.add(tf.add(tf.tanh(t), tf.sigmoid(t)), tf.add(tf.erf(t), tf.relu(t)))],
    ['maximum, minimum, abs, clipByValue', (t) => tf.add(tf.add(tf.maximum(t, 0.3), tf.minimum(t, -0.2)), tf.add(tf.abs(t), tf.clipByValue(t, -0.5, 0.5)))],
    ['softmax, logSoftmax, max, min', (t) => tf.add(tf.add(tf.softmax(t), tf.logSoftmax(t)), tf.add(tf.max(t, -1, true), tf.min(t, 0, true)))],
    ['mean, sum', (t) => tf.add(tf.mean(t, 0), tf.sum(tf.square(t), 0))],
    ['reshape, transpose, expandDims, tile, broadcastTo', (t) => tf.add(tf.reshape(tf.transpose(tf.tile(t, [2, 1]), [1, 0]), [3, 4]), tf.reshape(tf.broadcastTo(tf.expandDims(tf.sum(t, 0), 0), [4, 3]), [3, 4]))],
    ['slice, concat, split, stack, unstack', (t) => { const [a, b] = tf.split(t, [1, 2], 1); return tf.concat([tf.slice(t, [1, 1], [1, 2]), tf.stack(tf.unstack(tf.mul(b!, a!)), 0), tf.slice(t, [0, 0], [1, 2])], 0); }],
    ['where (select), cast, comparisons, sign', (t) => tf.add(tf.where(tf.greater(t, 0), tf.square(t), tf.neg(t)), tf.add(tf.cast(tf.lessEqual(t, 0.5), 'float32'), tf.mul(tf.sign(t), t)))],
    ['squaredDifference, addN, log1p, sin, cos', (t) => tf.addN([tf.squaredDifference(t, rand([3], 6)), tf.log1p(tf.square(t)), tf.sin(t), tf.cos(t)])],
    ['matMul, all transposes, batched', (t) => tf.add(tf.sum(tf.matMul(tf.reshape(tf.tile(t, [2, 1]), [2, 2, 3]), rand([2, 4, 3], 4), false, true)), tf.sum(tf.matMul(t, rand([2, 5], 5), true, false)))],
  ];
  for (const [label, f] of cases) {
    it(label, () => {
      const before = tf.memory().numTensors;
      const t = x();
      checkFd(label, f, t);
      t.dispose();
      assert.equal(tf.memory().numTensors, before, 'no leaked tensors');
    });
  }
  it('gather (axis 0 and axis 1) vs finite differences', () => {
    const table = rand([5, 3], 7);
    checkFd('gather axis 0', (t) => tf.gather(t, tf.tensor2d([[0, 2, 2], [4, 0, 1]], [2, 3], 'int32')), table);
    checkFd('gather axis 1', (t) => tf.gather(t, tf.tensor1d([2, 0, 2], 'int32'), 1), table);
    table.dispose();
  });
});

describe('embedding gradient (UnsortedSegmentSum) and fast matmul vs the cpu backend', () => {
  it('embedding-table gradient equals a host scatter-add and the cpu backend', async () => {
    const V = 97, C = 24, B = 4, T = 11;
    const rng = new Rng(3);
    const ids = Array.from({ length: B * T }, () => rng.int(V));
    const table = rand([V, C], 8);
    const w = rand([B, T, C], 9);
    const grad = () => tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, tf.tensor2d(ids, [B, T], 'int32')), w)))(table)).dataSync();
    const here = grad();
    const wd = w.dataSync();
    const expect = new Float32Array(V * C);
    ids.forEach((id, i) => { for (let j = 0; j < C; j++) expect[id * C + j] += wd[i * C + j]!; });
    assertClose('scatter-add', here, expect, { atol: 1e-6, rtol: 1e-6 });
    if (backend !== 'cpu') {
      await tf.setBackend('cpu');
      try {
        assertClose(`${backend} vs cpu`, here, grad(), { atol: 1e-6, rtol: 1e-6 });
      } finally {
        await tf.setBackend(backend);
      }
    }
    table.dispose();
    w.dispose();
  });

  it('BatchMatMul with transposeA/transposeB and batch broadcasting equals the cpu backend', async () => {
    const shapes: [number[], number[], boolean, boolean][] = [
      [[37, 19], [19, 23], false, false], [[19, 37], [19, 23], true, false], [[37, 19], [23, 19], false, true], [[19, 37], [23, 19], true, true],
      [[3, 2, 7, 5], [3, 2, 9, 5], false, true], [[2, 5, 7], [1, 5, 4], true, false],
    ];
    for (const [sa, sb, ta, tb] of shapes) {
      const a = rand(sa, 11);
      const b = rand(sb, 12);
      const here = tf.tidy(() => tf.matMul(a, b, ta, tb).dataSync());
      await tf.setBackend('cpu');
      const ref = tf.tidy(() => tf.matMul(a, b, ta, tb).dataSync());
      await tf.setBackend(backend);
      assertClose(`matMul [${sa}]${ta ? 'ᵀ' : ''} x [${sb}]${tb ? 'ᵀ' : ''}`, here, ref, { atol: 1e-5, rtol: 1e-5 });
      a.dispose();
      b.dispose();
    }
  });
});
