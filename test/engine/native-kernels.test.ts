// test-backends: once (compares the native addon with the cpu backend by itself; see test/run.mjs)
// native-kernels.test.ts — every native kernel against the tfjs 'cpu' backend.
//
// Random shapes (seeded) incl. broadcasting, transposes, batch dims, sizes
// 0/1/odd; special values (NaN, ±Inf, ±0); gradients through tf.grads; byte
// determinism across runs and thread counts. Tolerance per element:
//   |got - want| <= 1e-5 + 1.3e-6 * k * max(|want|, mag / k)
// where k is the number of accumulated terms (1 for element-wise, K for a
// matmul, R for a reduction) and mag the sum of |terms| (|A||B| for matmul),
// so cancellation to ~0 does not need an impossible relative accuracy.
// Skips (t.skip) when the addon is not built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { nativeKernelStats, poolStats, tryRegisterNativeBackend } from '../../src/engine/native/index.js';
import { registerGradients } from '../../src/engine/gradients.js';
import { FusedKernel, linear, setFusedEnabled } from '../../src/engine/fused.js';
import { activate } from '../../src/model/layers/activations.js';
import { layerNorm } from '../../src/model/layers/norm.js';

registerGradients();  // tfjs-core's Node bundle registers no gradients by itself

const reg = tryRegisterNativeBackend({});
const skip = reg.ok ? false : `native backend unavailable: ${reg.reason} (or: node tools/build-native.mjs)`;

let seed = 12345;
function rand(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const randInt = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
const size = (s: number[]) => s.reduce((p, d) => p * d, 1);
function data(n: number, lo = -3, hi = 3): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = lo + (hi - lo) * rand();
  return v;
}

type Out = tf.Tensor | tf.Tensor[];
async function run(backend: string, fn: () => Out): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const out = tf.tidy(fn);
  const list = Array.isArray(out) ? out : [out];
  const res = list.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose(list);
  return res;
}

/** Runs fn on both backends and compares; k/mag as in the header. */
async function same(label: string, fn: () => Out, k = 1, mag?: () => Out, ref?: () => Out): Promise<void> {
  const want = await run('cpu', ref ?? fn);
  const got = await run('native', fn);
  const m = mag ? await run('cpu', mag) : null;
  assert.equal(got.length, want.length, `${label}: output count`);
  want.forEach((w, o) => {
    const g = got[o];
    assert.equal(g.length, w.length, `${label}: output ${o} size`);
    for (let i = 0; i < w.length; i++) {
      if (Number.isNaN(w[i]) || Number.isNaN(g[i])) {
        assert.ok(Number.isNaN(w[i]) && Number.isNaN(g[i]), `${label}[${i}]: got ${g[i]}, want ${w[i]}`);
        continue;
      }
      if (w[i] === g[i]) continue;
      const scale = Math.max(Math.abs(w[i]), m ? m[o][i] / k : 0);
      const tol = 1e-5 + 1.3e-6 * k * scale;
      if (!(Math.abs(g[i] - w[i]) <= tol)) {
        assert.fail(`${label}: output ${o} [${i}] got ${g[i]}, want ${w[i]} (tol ${tol.toExponential(2)})`);
      }
    }
  });
}

test('native backend registers every cpu kernel', { skip }, () => {
  const cpu = tf.getKernelsForBackend('cpu').map((k) => k.kernelName);
  const native = new Set(tf.getKernelsForBackend('native').map((k) => k.kernelName));
  assert.deepEqual(cpu.filter((n) => !native.has(n)), []);
});

test('BatchMatMul: transposes, batch broadcasting, edge sizes', { skip }, async () => {
  const dims = [0, 1, 2, 3, 7, 16, 33, 65];
  const batches: [number[], number[]][] = [[[], []], [[3], [3]], [[1], [4]], [[4], []], [[], [2]],
    [[2, 3], [3]], [[2, 1], [2, 3]], [[2, 3], [1, 1]]];
  for (let c = 0; c < 60; c++) {
    const [m, n, k] = [pick(dims), pick(dims), pick(dims)];
    const [oa, ob] = pick(batches);
    const ta = rand() < 0.5;
    const tb = rand() < 0.5;
    const as = [...oa, ...(ta ? [k, m] : [m, k])];
    const bs = [...ob, ...(tb ? [n, k] : [k, n])];
    const av = data(size(as));
    const bv = data(size(bs));
    // The cpu kernel mis-broadcasts batch dims like [2,1] vs [2,3] (it uses bi % batch),
    // so its reference gets both operands explicitly broadcast first.
    const outer = tf.broadcast_util.assertAndGetBroadcastShape(oa, ob);
    const mk = (abs: boolean, full: boolean) => () => {
      let a = tf.tensor(av, as);
      let b = tf.tensor(bv, bs);
      if (full) {
        a = tf.broadcastTo(a, [...outer, ...as.slice(-2)]);
        b = tf.broadcastTo(b, [...outer, ...bs.slice(-2)]);
      }
      return abs ? tf.matMul(tf.abs(a), tf.abs(b), ta, tb) : tf.matMul(a, b, ta, tb);
    };
    await same(`matMul ${as}x${bs} tA=${ta} tB=${tb}`, mk(false, false), Math.max(k, 1), mk(true, true), mk(false, true));
  }
});

test('BatchMatMul: GPT-2 inner sizes incl. backward transposes', { skip }, async () => {
  // Inner dims as in GPT-2 small; outer dims trimmed so the JS cpu reference stays fast.
  for (const [as, bs, ta, tb] of [[[16, 768], [768, 96], false, false], [[64, 96], [64, 80], true, false],
    [[16, 3072], [40, 3072], false, true], [[12, 64, 64], [12, 64, 64], false, true],
    [[1, 768], [50, 768], false, true], [[768, 1], [768, 5], true, false]] as const) {
    const av = data(size([...as]));
    const bv = data(size([...bs]));
    const k = ta ? as[as.length - 2] : as[as.length - 1];
    const mk = (abs: boolean) => () => {
      const a = tf.tensor(av, [...as]);
      const b = tf.tensor(bv, [...bs]);
      return abs ? tf.matMul(tf.abs(a), tf.abs(b), ta, tb) : tf.matMul(a, b, ta, tb);
    };
    await same(`matMul ${as}x${bs}`, mk(false), k, mk(true));
  }
});

test('BatchMatMul: a few rows times a tall matrix (the K-chunked path, K >= 16384)', { skip }, async () => {
  // Own data (not the shared seeded stream, so the other tests keep theirs).
  const wave = (n: number, f: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * f) * 2);
  for (const [as, bs] of [[[1, 20000], [20000, 70]], [[5, 17000], [17000, 64]], [[2, 3, 16384], [16384, 64]], [[16, 16384], [16384, 64]]] as const) {
    const av = wave(size([...as]), 0.7071);
    const bv = wave(size([...bs]), 0.3183);
    const mk = (abs: boolean) => () => {
      const a = tf.tensor(av, [...as]);
      const b = tf.tensor(bv, [...bs]);
      return abs ? tf.matMul(tf.abs(a), tf.abs(b)) : tf.matMul(a, b);
    };
    await same(`matMul ${as}x${bs}`, mk(false), as[as.length - 1], mk(true));
  }
  // with a bias row (initialises C before the chunks are added)
  const [av, bv, biasv] = [wave(3 * 20000, 0.11), wave(20000 * 65, 0.37), wave(65, 1.3)];
  await same('fused matMul + bias, K-chunked', () => tf.fused.matMul({ a: tf.tensor(av, [3, 20000]), b: tf.tensor(bv, [20000, 65]), bias: tf.tensor(biasv, [65]) }), 20001,
    () => tf.add(tf.matMul(tf.abs(tf.tensor(av, [3, 20000])), tf.abs(tf.tensor(bv, [20000, 65]))), tf.abs(tf.tensor(biasv, [65]))));
});

test('_FusedMatMul: bias shapes and activations', { skip }, async () => {
  const acts = ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu'] as const;
  for (let c = 0; c < 40; c++) {
    const [m, n, k] = [randInt(1, 9), randInt(1, 9), randInt(1, 20)];
    const ta = rand() < 0.5;
    const tb = rand() < 0.5;
    const batch = pick([[], [2]]);
    const biasShape = pick([null, [n], [1, n], [], [m, n], [m, 1], [1], ...(batch.length ? [[2, m, n], [2, 1, n]] : [])]);
    const act = pick(acts);
    const as = [...batch, ...(ta ? [k, m] : [m, k])];
    const bs = [...batch, ...(tb ? [n, k] : [k, n])];
    const [av, bv] = [data(size(as)), data(size(bs))];
    const biasv = biasShape ? data(size(biasShape)) : null;
    const pv = data(n);
    const mk = (abs: boolean) => () => {
      const a = tf.tensor(av, as);
      const b = tf.tensor(bv, bs);
      if (abs) return tf.add(tf.matMul(tf.abs(a), tf.abs(b), ta, tb), biasv && biasShape ? tf.abs(tf.tensor(biasv, biasShape)) : 0);
      return tf.fused.matMul({
        a, b, transposeA: ta, transposeB: tb, activation: act, leakyreluAlpha: 0.3,
        bias: biasv && biasShape ? tf.tensor(biasv, biasShape) : undefined,
        preluActivationWeights: act === 'prelu' ? tf.tensor(pv, [n]) : undefined,
      });
    };
    await same(`fused ${as}x${bs} bias=${biasShape} ${act}`, mk(false), k + 1, mk(true));
  }
});

const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 1e-30, -1e-30, 1e-3, -1e-3, 0.5, -0.7, 20, -20, 88, -88, 89, -104, 200, -200];
const UNARY: [string, (x: tf.Tensor) => tf.Tensor, number, number][] = [
  ['exp', tf.exp, -10, 10], ['log', tf.log, 0.001, 10], ['sqrt', tf.sqrt, 0, 10], ['rsqrt', tf.rsqrt, 0.01, 10],
  ['tanh', tf.tanh, -6, 6], ['sigmoid', tf.sigmoid, -10, 10], ['erf', tf.erf, -4, 4], ['neg', tf.neg, -5, 5],
  ['square', tf.square, -5, 5], ['abs', tf.abs, -5, 5], ['relu', tf.relu, -5, 5], ['relu6', tf.relu6, -9, 9],
  ['elu', tf.elu, -5, 5], ['leakyRelu', (x) => tf.leakyRelu(x, 0.15), -5, 5], ['reciprocal', tf.reciprocal, 0.1, 5],
  ['softplus', tf.softplus, -20, 20], ['sin', tf.sin, -6, 6], ['cos', tf.cos, -6, 6], ['log1p', tf.log1p, -0.9, 5],
  ['expm1', tf.expm1, -3, 3], ['step', (x) => tf.step(x, 0.25), -2, 2], ['selu', tf.selu, -4, 4],
];

test('unary ops: random shapes and special values', { skip }, async () => {
  for (const [name, f, lo, hi] of UNARY) {
    for (const shape of [[0], [1], [7], [3, 5], [2, 3, 17], [64, 3072]]) {
      const v = data(size(shape), lo, hi);
      await same(`${name} ${shape}`, () => f(tf.tensor(v, shape)), 2);
    }
    // Erf: the cpu reference is itself an approximation; both use the same A&S formula.
    await same(`${name} special`, () => f(tf.tensor(Float32Array.from(SPECIAL))), 2);
  }
});

const BINARY: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, boolean][] = [
  ['add', tf.add, false], ['sub', tf.sub, false], ['mul', tf.mul, false], ['div', tf.div, false],
  ['maximum', tf.maximum, false], ['minimum', tf.minimum, false], ['squaredDifference', tf.squaredDifference, false],
  ['pow', tf.pow, true], ['prelu', tf.prelu, false],
];
const PAIRS: [number[], number[]][] = [[[2, 3, 4], [4]], [[2, 1, 4], [3, 1]], [[], [5]], [[5], []], [[1], [1]],
  [[0, 3], [3]], [[64, 768], [768]], [[12, 64, 64], [1, 64, 64]], [[3, 1, 5, 1], [1, 4, 1, 6]],
  [[7, 9], [7, 9]], [[4, 1], [4, 33]], [[2, 3, 4, 5, 6], [3, 1, 5, 1]], [[33], [1]], [[1, 1, 1], [2, 1, 3]]];

test('binary ops: broadcasting patterns', { skip }, async () => {
  for (const [name, f, positive] of BINARY) {
    for (const [as, bs] of PAIRS) {
      if (name === 'prelu' && bs.length > as.length) continue;  // prelu output must have x's shape
      const av = data(size(as), positive ? 0.1 : -3, 3);
      const bv = data(size(bs), positive ? -2 : -3, 3);
      await same(`${name} ${as} ${bs}`, () => f(tf.tensor(av, as), tf.tensor(bv, bs)), 2);
      await same(`${name} ${bs} ${as}`, () => f(tf.tensor(bv, bs), tf.tensor(av, as)), 2);
    }
    const s = Float32Array.from(SPECIAL);
    const r = Float32Array.from(SPECIAL).reverse();
    await same(`${name} special`, () => f(tf.tensor(s), tf.tensor(r)), 2);
  }
  for (const e of [2, 3, 0.5, -1]) {
    const v = data(50, -3, 3);
    await same(`pow scalar ${e}`, () => tf.pow(tf.tensor(v), tf.scalar(e)), 2);
  }
  const parts = [data(30), data(30), data(30), data(30)];
  await same('addN', () => tf.addN(parts.map((p) => tf.tensor(p, [5, 6]))), 4);
});

test('reductions: axes blocks, non-contiguous axes, keepDims, long vectors', { skip }, async () => {
  const ops: [string, (x: tf.Tensor, ax: number[] | null, keep: boolean) => tf.Tensor][] = [
    ['sum', tf.sum], ['mean', tf.mean], ['max', tf.max], ['min', tf.min], ['prod', tf.prod]];
  const cases: [number[], number[] | null][] = [[[7], [0]], [[3, 5], [1]], [[3, 5], [0]], [[3, 5], null],
    [[2, 3, 4], [1]], [[2, 3, 4], [0, 2]], [[2, 3, 4], [1, 2]], [[2, 1, 4], [0, 2]], [[64, 768], [1]],
    [[64, 768], [0]], [[12, 64, 64], [2]], [[3, 0], [1]], [[70001], [0]], [[5, 600], [0]], [[2, 3, 4, 5], [0, 3]],
    [[4, 6], []]];
  for (const [name, f] of ops) {
    for (const [shape, axes] of cases) {
      if (name === 'prod' && size(shape) > 1000) continue;  // overflow to inf is not interesting
      const v = data(size(shape), name === 'prod' ? 0.5 : -3, name === 'prod' ? 1.5 : 3);
      const r = axes === null ? size(shape) : size(axes.map((a) => shape[a]));
      const keep = rand() < 0.5;
      const mag = name === 'sum' || name === 'mean' ? () => f(tf.abs(tf.tensor(v, shape)), axes, keep) : undefined;
      await same(`${name} ${shape} axes=${axes} keep=${keep}`, () => f(tf.tensor(v, shape), axes, keep), Math.max(r, 1), mag);
    }
    const s = Float32Array.from(SPECIAL);
    await same(`${name} special`, () => f(tf.tensor(s, [SPECIAL.length]), null, false), SPECIAL.length);
  }
});

test('softmax rows', { skip }, async () => {
  for (const shape of [[1, 1], [3, 1], [5, 7], [12, 64, 64], [2, 50257], [1000]]) {
    const v = data(size(shape), -20, 20);
    await same(`softmax ${shape}`, () => tf.softmax(tf.tensor(v, shape)), shape[shape.length - 1]);
  }
  const masked = Float32Array.from([1, -Infinity, 3, -1e9, 2, 0]);
  await same('softmax masked', () => tf.softmax(tf.tensor(masked, [2, 3])), 3);
  const ls = data(40, -5, 5);
  await same('logSoftmax', () => tf.logSoftmax(tf.tensor(ls, [4, 10])), 10);
});

test('gather, tile, unsortedSegmentSum, transpose, slice, split, concat', { skip }, async () => {
  const emb = data(50 * 8);
  const idx = Int32Array.from([3, 0, 49, 3, 7, 7]);
  await same('gather rows', () => tf.gather(tf.tensor(emb, [50, 8]), tf.tensor(idx, [2, 3], 'int32')));
  for (const [shape, reps] of [[[1, 40, 8], [8, 1, 1]], [[2, 3, 4], [2, 3, 2]], [[5], [3]], [[3, 1], [1, 7]], [[2, 2], [0, 2]]] as const) {
    const n = shape.reduce((p, d) => p * d, 1);
    await same(`tile ${shape} x ${reps}`, () => tf.tile(tf.tensor(emb.subarray(0, n), [...shape]), [...reps]));
    await same(`broadcastTo int32 ${shape}`, () => tf.cast(tf.tile(tf.tensor(Int32Array.from({ length: n }, (_, i) => i), [...shape], 'int32'), [...reps]), 'float32'));
  }
  await same('gather axis1', () => tf.gather(tf.tensor(emb, [5, 10, 8]), tf.tensor(idx.map((i) => i % 10), [6], 'int32'), 1));
  await same('gather int32', () => tf.cast(tf.gather(tf.tensor(idx, [6], 'int32'), tf.tensor([5, 0, 2], [3], 'int32')), 'float32'));
  await same('gather empty', () => tf.gather(tf.tensor(emb, [50, 8]), tf.tensor([], [0], 'int32')));
  await tf.setBackend('native');
  assert.throws(() => tf.gather(tf.tensor(emb, [50, 8]), tf.tensor([50], [1], 'int32')), /index value 50 is not in \[0, 49\]/);

  const seg = Int32Array.from([0, 2, 2, 5, 0, 1, 9]);
  const sx = data(7 * 6);
  await same('unsortedSegmentSum', () => tf.unsortedSegmentSum(tf.tensor(sx, [7, 6]), tf.tensor(seg, [7], 'int32'), 10), 3);
  await same('unsortedSegmentSum 1d', () => tf.unsortedSegmentSum(tf.tensor(sx.subarray(0, 7), [7]), tf.tensor(seg, [7], 'int32'), 12), 3);
  await same('unsortedSegmentSum 3d', () => tf.unsortedSegmentSum(tf.tensor(sx, [7, 3, 2]), tf.tensor(seg, [7], 'int32'), 10), 3);

  for (let c = 0; c < 30; c++) {
    const rank = randInt(1, 5);
    const shape = Array.from({ length: rank }, () => pick([1, 2, 3, 5, 8]));
    const perm = [...shape.keys()].sort(() => rand() - 0.5);
    const v = data(size(shape));
    await same(`transpose ${shape} ${perm}`, () => tf.transpose(tf.tensor(v, shape), perm));
    await same(`transpose int ${shape} ${perm}`, () => tf.cast(tf.transpose(tf.cast(tf.tensor(v, shape), 'int32'), perm), 'float32'));
    const begin = shape.map((d) => randInt(0, d - 1));
    const sz = shape.map((d, i) => randInt(0, d - begin[i]));
    await same(`slice ${shape} ${begin} ${sz}`, () => tf.slice(tf.tensor(v, shape), begin, sz));
  }
  const hv = data(64 * 768);
  await same('transpose heads', () => tf.transpose(tf.tensor(hv, [1, 64, 12, 64]), [0, 2, 1, 3]));
  const qkv = data(64 * 2304);
  await same('split qkv', () => tf.split(tf.tensor(qkv, [64, 2304]), 3, 1));
  await same('split sizes', () => tf.split(tf.tensor(qkv, [64, 2304]), [100, 2000, 204], 1));
  await same('split rows', () => tf.split(tf.tensor(qkv, [64, 2304]), [10, 54], 0));
  const [c1, c2, c3] = [data(2 * 3 * 4), data(2 * 5 * 4), data(2 * 1 * 4)];
  for (const axis of [0, 1, 2, -1]) {
    const shapes = axis === 1 ? [[2, 3, 4], [2, 5, 4], [2, 1, 4]] : axis === 0 ? [[3, 2, 4], [5, 2, 4], [1, 2, 4]] : [[2, 4, 3], [2, 4, 5], [2, 4, 1]];
    await same(`concat axis ${axis}`, () => tf.concat([tf.tensor(c1, shapes[0]), tf.tensor(c2, shapes[1]), tf.tensor(c3, shapes[2])], axis));
  }
  await same('concat with empty', () => tf.concat([tf.tensor(c1, [2, 12]), tf.zeros([2, 0]), tf.tensor(c3, [2, 4])], 1));
  await same('concat int32', () => tf.cast(tf.concat([tf.tensor([1, 2], [1, 2], 'int32'), tf.tensor([3, 4, 5, 6], [2, 2], 'int32')], 0), 'float32'));
});

function block(ln: tf.Tensor, w1: tf.Tensor, w2: tf.Tensor, emb: tf.Tensor, ids: tf.Tensor) {
  return (x: tf.Tensor) => {
    const h = tf.add(x, tf.gather(emb, ids));
    const mu = tf.mean(h, -1, true);
    const v = tf.mean(tf.square(tf.sub(h, mu)), -1, true);
    const n = tf.mul(tf.mul(tf.sub(h, mu), tf.rsqrt(tf.add(v, 1e-5))), ln);
    const qkv = tf.matMul(n, w1);  // [T, 3D]
    const [q, k] = tf.split(qkv, 3, 1);
    const heads = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [8, 4, 6]), [1, 0, 2]);
    const att = tf.softmax(tf.div(tf.matMul(heads(q), heads(k), false, true), Math.sqrt(6)));
    const y = tf.reshape(tf.transpose(tf.matMul(att, heads(q)), [1, 0, 2]), [8, 24]);
    const g = tf.mul(tf.mul(y, 0.5), tf.add(1, tf.tanh(tf.mul(tf.add(y, tf.mul(0.044715, tf.pow(y, 3))), 0.79788456))));
    return tf.sum(tf.square(tf.matMul(g, w2, false, true)));
  };
}

test('gradients through tf.grads match cpu (transformer-block shaped)', { skip }, async () => {
  const [xv, lnv, w1v, w2v, ev] = [data(8 * 24, -1, 1), data(24), data(24 * 72, -0.3, 0.3), data(40 * 24, -0.3, 0.3), data(30 * 24)];
  const ids = Int32Array.from([1, 5, 5, 29, 0, 3, 3, 7]);
  await same('block grads', () => {
    const [x, ln, w1, w2, emb] = [tf.tensor(xv, [8, 24]), tf.tensor(lnv, [24]), tf.tensor(w1v, [24, 72]),
      tf.tensor(w2v, [40, 24]), tf.tensor(ev, [30, 24])];
    const ix = tf.tensor(ids, [8], 'int32');
    return tf.grads((x2: tf.Tensor, ln2: tf.Tensor, w12: tf.Tensor, w22: tf.Tensor, e2: tf.Tensor) =>
      block(ln2, w12, w22, e2, ix)(x2))([x, ln, w1, w2, emb]);
  }, 200);
  const fns: [string, (x: tf.Tensor) => tf.Tensor][] = [
    ['softmax', (x) => tf.sum(tf.mul(tf.softmax(x), tf.reshape(tf.range(0, 9), [1, 9])))],
    ['erf', (x) => tf.sum(tf.erf(x))], ['sigmoid-max', (x) => tf.sum(tf.max(tf.sigmoid(x), 1))],
    ['exp-log-sqrt', (x) => tf.sum(tf.log(tf.add(tf.sqrt(tf.exp(x)), 1)))],
    ['matmul-tA', (x) => tf.sum(tf.matMul(x, tf.reshape(x, [9, 4]), true, true))],
  ];
  for (const [name, f] of fns) {
    const xv2 = data(36, -2, 2);
    await same(`grad ${name}`, () => tf.grad(f)(tf.tensor(xv2, [4, 9])), 20);
  }
});

test('fused tanh GELU, LayerNorm and linear (native) match the composite tf ops (cpu), forward and every gradient', { skip }, async () => {
  // The model layers pick the fused kernel where the backend has one (native) and the composite
  // otherwise (cpu), so the same call compares the two implementations.
  assert.ok(tf.getKernel(FusedKernel.GeluTanh, 'native') && !tf.getKernel(FusedKernel.GeluTanh, 'cpu'));
  for (const [rows, n] of [[1, 1], [3, 7], [5, 768], [70, 33], [2, 3072]] as const) {
    const xv = data(rows * n, -4, 4);
    // large |x| too: tanh saturates there and (1 - t^2) underflows
    if (xv.length > 4) [xv[0], xv[1], xv[2], xv[3]] = [12, -12, 0, -0.5];
    const wv = data(n, 0.5, 1.5);
    const bv = data(n);
    const dyv = data(rows * n);
    await same(`gelu ${rows}x${n}`, () => activate('gelu_new', tf.tensor(xv, [rows, n])), 4);
    await same(`gelu grad ${rows}x${n}`, () => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(activate('gelu_new', x), tf.tensor(dyv, [rows, n]))))(tf.tensor(xv, [rows, n])), 4);
    const ln = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => layerNorm(x, { w: w as tf.Tensor1D, b: b as tf.Tensor1D }, 1e-5);
    await same(`layerNorm ${rows}x${n}`, () => ln(tf.tensor(xv, [1, rows, n]), tf.tensor(wv), tf.tensor(bv)), 3 * n);
    await same(`layerNorm grads ${rows}x${n}`, () => tf.grads((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(ln(x, w, b), tf.tensor(dyv, [1, rows, n]))))([tf.tensor(xv, [1, rows, n]), tf.tensor(wv), tf.tensor(bv)]), 4 * Math.max(n, rows));
  }
  // x W + b: native runs one _FusedMatMul with the bias inside the GEMM (and our lazy gradient),
  // cpu a matMul and an add; K = 1000 spans several OpenBLAS K-blocks.
  for (const [r, k, n] of [[3, 5, 4], [64, 1000, 33], [1, 768, 130]] as const) {
    const [xv, wv, bv] = [data(r * k, -1, 1), data(k * n, -0.2, 0.2), data(n)];
    const mk = () => [tf.tensor2d(xv, [r, k]), tf.tensor2d(wv, [k, n]), tf.tensor1d(bv)] as const;
    await same(`linear ${r}x${k}x${n}`, () => { const [x, w, b] = mk(); return linear(x, w, b); }, k + 1);
    await same(`linear grads ${r}x${k}x${n}`, () => {
      const [x, w, b] = mk();
      return tf.grads((x2: tf.Tensor, w2: tf.Tensor, b2: tf.Tensor) => tf.sum(tf.square(linear(x2, w2 as tf.Tensor2D, b2 as tf.Tensor1D))))([x, w, b]);
    }, 2 * Math.max(k, r) + 2);
  }
  // Without a bias, and the composite path on native when fused kernels are switched off.
  const xv = data(6 * 40);
  const wv = data(40);
  await same('layerNorm without bias', () => layerNorm(tf.tensor(xv, [6, 40]), { w: tf.tensor1d(wv) }, 1e-5), 120);
  setFusedEnabled(false);
  try {
    await same('gelu composite on native', () => activate('gelu_new', tf.tensor(xv, [6, 40])), 4);
  } finally {
    setFusedEnabled(true);
  }
});

test('deterministic bytes: repeated runs and thread counts', { skip }, async () => {
  const v = data(100003);
  const w = data(256 * 384);
  const fn = () => [tf.sum(tf.tensor(v)), tf.mean(tf.reshape(tf.tensor(v), [1, 100003]), 1),
    tf.softmax(tf.tensor(w, [256, 384])), tf.sum(tf.tensor(w, [256, 384]), 0), tf.matMul(tf.tensor(w, [256, 384]), tf.tensor(w, [256, 384]), false, true),
    ...tf.grads((x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(activate('gelu_new', layerNorm(x, { w: g as tf.Tensor1D, b: b as tf.Tensor1D }, 1e-5)), x)))(
      [tf.tensor(w, [256, 384]), tf.tensor(w.subarray(0, 384)), tf.tensor(w.subarray(384, 768))])];
  const a = await run('native', fn);
  const b = await run('native', fn);
  assert.deepEqual(a, b);
  tryRegisterNativeBackend({ threads: 1 });
  const c = await run('native', fn);
  tryRegisterNativeBackend({});
  // GEMM tiles are shape-only too, so even matmul bytes match across thread counts
  // (unless LLMDBG_BLAS_THREADING=blas hands threading back to OpenBLAS).
  assert.deepEqual(process.env.LLMDBG_BLAS_THREADING === 'blas' ? c.slice(0, 4) : c, process.env.LLMDBG_BLAS_THREADING === 'blas' ? a.slice(0, 4) : a);
});

test('output recycling never overwrites visible arrays or views', { skip }, async () => {
  await tf.setBackend('native');
  const n = 4 * 20000;
  const base = data(n);
  const before = tf.memory().numTensors;
  const src = tf.tensor(base, [4, 20000]);
  // 1. an array returned by dataSync stays intact after its tensor is disposed
  const a = tf.mul(src, 3);
  const seen = a.dataSync();
  const copy = Float32Array.from(seen);
  a.dispose();
  // 2. zero-copy views pin their parent: cpu Unpack, native split and slice (parents never read)
  const [b, c, d] = [tf.mul(src, 2), tf.mul(src, 4), tf.mul(src, 8)];
  const rows = tf.unstack(b);
  const parts = tf.split(c, [1, 3], 0);
  const sl = tf.slice(d, [2, 0], [1, 20000]);
  tf.dispose([b, c, d]);
  for (let i = 0; i < 20; i++) tf.tidy(() => { tf.sqrt(tf.abs(src)); tf.tanh(src); tf.neg(src); });
  assert.deepEqual(seen, copy);
  const check = (t: tf.Tensor, k: number, off: number) => {
    const v = t.dataSync();
    for (let i = 0; i < v.length; i++) if (v[i] !== k * base[off + i]) assert.fail(`view ${k} [${i}] overwritten`);
  };
  check(rows[1], 2, 20000);
  check(parts[1], 4, 20000);
  check(sl, 8, 40000);
  tf.dispose([...rows, ...parts, sl, src]);
  assert.equal(tf.memory().numTensors, before);
  assert.ok(poolStats().arrays > 0, 'the pool is used');
});

test('the native implementations actually ran (no silent cpu fallback)', { skip }, () => {
  const st = nativeKernelStats();
  const hot = ['BatchMatMul', '_FusedMatMul', 'Softmax', 'AddN', 'GatherV2', 'UnsortedSegmentSum', 'Transpose', 'Slice',
    'SplitV', 'Concat', 'Tile', 'Exp', 'Tanh', 'Erf', 'Add', 'Sub', 'Multiply', 'RealDiv', 'Maximum', 'Pow', 'Prelu', 'Sum', 'Mean', 'Max', 'Prod'];
  for (const k of hot) assert.ok((st[k]?.native ?? 0) > 0, `${k} never ran natively: ${JSON.stringify(st[k])}`);
  // float32 matmuls and softmax never need the cpu kernel
  for (const k of ['BatchMatMul', '_FusedMatMul', 'Softmax']) assert.equal(st[k]?.fallback, 0, k);
});

test('large arrays are stored 64-byte aligned; reads return compact copies of views', { skip }, async () => {
  await tf.setBackend('native');
  const { loadAddon } = await import('../../src/engine/native/addon.js');
  const loaded = loadAddon();
  assert.ok(!('error' in loaded));
  const addon = loaded.addon;
  const backend = tf.backend() as unknown as { data: { get(id: object): { values: Float32Array } } };
  const n = 40000;
  const w = tf.tensor1d(data(n)); // written by the user: copied to an aligned array if needed
  const y = tf.add(tf.mul(w, 2), 1); // kernel outputs come from the pool
  for (const t of [w, y]) assert.equal(addon.misalignment(backend.data.get(t.dataId).values), 0, 'stored data must start on a 64-byte boundary');
  const read = y.dataSync() as Float32Array;
  assert.equal(read.byteOffset, 0);
  assert.equal(read.buffer.byteLength, 4 * n, 'a read must not expose the rest of an aligned buffer');
  const wv = w.dataSync() as Float32Array;
  for (const i of [0, 1, n - 1]) assert.equal(read[i], Math.fround(Math.fround(wv[i]! * 2) + 1));
  tf.dispose([w, y]);
});
