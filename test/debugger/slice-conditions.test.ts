// test-backends: once (host code only: no tfjs backend is involved; see test/run.mjs)
/**
 * Slices, edits and conditions on small known tensors: numpy semantics for indices and ranges,
 * named dimensions, edits that keep the shape, and condition values in closed form (entropy of a
 * uniform row is log S, per-position norms, first non-finite index).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyEdit, gatherSlice, parseSlice, selShape } from '../../src/debugger/slice.js';
import { checkCondition, evaluateCondition } from '../../src/debugger/conditions.js';
import { topActivations } from '../../src/debugger/inspect.js';
import { parseBreak, parseSet, parseTop } from '../../src/debugger/repl-parse.js';
import { MASKED_SCORE } from '../../src/model/layers/attention.js';

const iota = (n: number) => Float32Array.from({ length: n }, (_, i) => i);

describe('slices', () => {
  const shape = [2, 3, 4];
  const dims = ['batch', 'pos', 'd_model'];

  it('indices, ranges, negatives, ellipsis and names select like numpy', () => {
    const d = iota(24);
    const take = (s: string) => Array.from(gatherSlice(d, shape, parseSlice(s, shape, dims)).data);
    assert.deepEqual(take('[1, 2, :]'), [20, 21, 22, 23]);
    assert.deepEqual(take('[0, :, 1:3]'), [1, 2, 5, 6, 9, 10]);
    assert.deepEqual(take('[..., -1]'), [3, 7, 11, 15, 19, 23]);
    assert.deepEqual(take('[-1, -1]'), [20, 21, 22, 23]);
    assert.deepEqual(take('pos=1 d_model=0'), [4, 16]);
    assert.deepEqual(take('[0, 1:]'), [4, 5, 6, 7, 8, 9, 10, 11]);
    assert.deepEqual(selShape(parseSlice('[0, :, 1:3]', shape, dims)), [3, 2]);
    assert.deepEqual(Array.from(gatherSlice(d, shape, parseSlice([1, [0, 2], 3], shape)).data), [15, 19]);
  });

  it('bad slices are refused with the axis and its range', () => {
    assert.throws(() => parseSlice('[0, 3]', shape, dims), /index 3 is out of range for axis 1 \(pos\) of size 3/);
    assert.throws(() => parseSlice('[0, 0, 0, 0]', shape, dims), /4 indices for a tensor of 3 axes/);
    assert.throws(() => parseSlice('[0, 2:1]', shape, dims), /range 2:1 is empty/);
    assert.throws(() => parseSlice('head=1', shape, dims), /unknown dimension "head"/);
    assert.throws(() => parseSlice('[0, ::2]', shape, dims), /step/);
    assert.throws(() => parseSlice('[x]', shape, dims), /not an index/);
    assert.throws(() => parseSlice('[0, 1', shape, dims), /does not close/);
  });

  it('edits change exactly the slice and never the shape', () => {
    const d = iota(24);
    const sel = parseSlice('[1, 0, :]', shape, dims);
    const set = applyEdit(d, shape, sel, { kind: 'set', values: [-1, -2, -3, -4] });
    assert.deepEqual(Array.from(set.slice(12, 16)), [-1, -2, -3, -4]);
    assert.equal(set.length, 24);
    assert.deepEqual(Array.from(set.slice(0, 12)), Array.from(d.slice(0, 12)));
    const scaled = applyEdit(d, shape, parseSlice('[..., 0]', shape, dims), { kind: 'scale', factor: 10 });
    assert.deepEqual([scaled[0], scaled[4], scaled[1]], [0, 40, 1]);
    assert.throws(() => applyEdit(d, shape, sel, { kind: 'set', values: [1, 2] }), /2 values given for a slice of shape \[4\]/);
    assert.equal(d[12], 12, 'the input is not modified');
  });

  it('top activations rank by value (or |x|) and report sequence positions', () => {
    const d = Float32Array.from([0, 5, -7, 2, 5, 1]);
    const v = { shape: [1, 2, 3], dims: ['batch', 'pos', 'd_model'], data: d, posOffset: 10 };
    assert.deepEqual(topActivations(v, 2).map((t) => [t.value, t.at['pos'], t.at['d_model']]), [[5, 10, 1], [5, 11, 1]]);
    assert.deepEqual(topActivations(v, 1, { abs: true })[0]!.index, [0, 0, 2]);
  });
});

describe('conditions', () => {
  const ctx = (posAxis: number, dims: string[], extra = {}) => ({ posAxis, posOffset: 0, masked: false, dims, ...extra });

  it('entropy of a uniform row is log S; a one-hot row is 0; the minimum is reported', () => {
    // [B=1, H=2, T=2, S=4]: head 0 uniform, head 1 row 1 one-hot
    const d = Float32Array.from([0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0, 1, 0, 0]);
    const c = ctx(2, ['batch', 'head', 'pos', 'key_pos']);
    const r = evaluateCondition({ kind: 'entropy_below', threshold: 0.1 }, d, [1, 2, 2, 4], c);
    assert.deepEqual([r.matched, r.value, r.detail], [true, 0, 'entropy 0 < 0.1 at head 1, pos 1']);
    const u = evaluateCondition({ kind: 'entropy_below', threshold: 0.1 }, d, [1, 2, 2, 4], { ...c, posIndex: 0 });
    assert.equal(u.matched, false);
    assert.ok(Math.abs(u.value! - Math.log(4)) < 1e-6);
  });

  it('norm per (batch, position), |x| max with masked scores ignored, first non-finite index', () => {
    const d = Float32Array.from([3, 4, 0, 1, 1, 1]); // [1, 2, 3]: norms 5 and sqrt(3)
    const c = ctx(1, ['batch', 'pos', 'd_model']);
    assert.equal(evaluateCondition({ kind: 'norm_above', threshold: 4.9 }, d, [1, 2, 3], c).detail, 'norm 5 > 4.9 at batch 0, pos 0');
    assert.equal(evaluateCondition({ kind: 'norm_above', threshold: 4.9 }, d, [1, 2, 3], { ...c, posIndex: 1 }).matched, false);
    const s = Float32Array.from([1, MASKED_SCORE, -2, 0.5]);
    const cs = ctx(2, ['batch', 'head', 'pos', 'key_pos'], { masked: true });
    assert.equal(evaluateCondition({ kind: 'abs_above', threshold: 1.5 }, s, [1, 1, 2, 2], cs).value, 2);
    const n = Float32Array.from([0, 1, Infinity, NaN]);
    assert.match(evaluateCondition({ kind: 'nonfinite' }, n, [1, 2, 2], c).detail, /^Infinity at \[0, 1, 0\]/);
  });

  it('impossible or malformed conditions are refused', () => {
    assert.throws(() => checkCondition({ kind: 'entropy_below', threshold: 0 }), /can never hold/);
    assert.throws(() => checkCondition({ kind: 'norm_above', threshold: -1 }), /always holds/);
    assert.throws(() => checkCondition({ kind: 'abs_above', threshold: Infinity }), /finite number/);
    assert.throws(() => checkCondition('nan'), /not an object/);
  });

  it('the command language parses into data', () => {
    assert.deepEqual(parseBreak('blocks.*.attn.hook_pattern layer 1 pos 3 step 0 if entropy<0.5 hits 2'), {
      hook: 'blocks.*.attn.hook_pattern', layer: 1, position: 3, step: 0, condition: { kind: 'entropy_below', threshold: 0.5 }, hitCount: 2,
    });
    assert.deepEqual(parseBreak('if nonfinite'), { condition: { kind: 'nonfinite' } });
    assert.deepEqual(parseBreak('hook_embed if abs > 1e3'), { hook: 'hook_embed', condition: { kind: 'abs_above', threshold: 1000 } });
    assert.throws(() => parseBreak('hook_embed if norm < 3'), /norm > X/);
    assert.throws(() => parseBreak('hook_embed layer x'), /layer needs a non-negative integer/);
    assert.throws(() => parseBreak('hook_embed when nan'), /unexpected "when"/);
    assert.deepEqual(parseSet('[0, 1, :] = 1, -inf, nan'), { slice: '[0, 1, :]', op: { kind: 'set', values: [1, -Infinity, NaN] } });
    assert.deepEqual(parseSet('pos=2 *= 0.5'), { slice: 'pos=2', op: { kind: 'scale', factor: 0.5 } });
    assert.deepEqual(parseSet('pos=2 head=1 = 0'), { slice: 'pos=2 head=1', op: { kind: 'set', values: [0] } });
    assert.deepEqual(parseSet('= 0'), { slice: '', op: { kind: 'set', values: [0] } });
    assert.throws(() => parseSet('[0] = abc'), /"abc" is not a number/);
    assert.deepEqual(parseTop('5 abs pos=1'), { k: 5, abs: true, slice: 'pos=1' });
  });
});
