/**
 * Every refusal of `attack` is an LlmdbgError with its stable code, naming the bad value and the
 * way out, and leaks no tensor: unknown methods, bad goals, token ids, lengths, positions,
 * options of other methods, budgets and empty vocabularies. Also the registry's help and defaults.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useTestBackend } from '../helpers/backend.js';
import { fixtureDir } from '../helpers/fixtures.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { LlmdbgError } from '../../src/errors.js';
import { ATTACK_METHOD_NAMES, attack, attackMethodsHelp, resolveAttackMethod, type AttackRequest } from '../../src/methods/adversarial/index.js';

before(async () => {
  await useTestBackend();
});

const IDS = [1, 10, 20, 30, 40, 50];

describe('attack refusals', () => {
  let model: Model;
  before(() => {
    model = loadModel(fixtureDir('llama-tiny')); // V 64, nCtx 64, bos 1, eos 2
  });

  async function refuses(req: Partial<AttackRequest> & Record<string, unknown>, code: string, re: RegExp): Promise<void> {
    const n0 = tf.memory().numTensors;
    const full = { method: 'hotflip', ids: IDS, goal: { kind: 'untargeted' }, ...req } as AttackRequest;
    await assert.rejects(attack(model, full), (e: unknown) => {
      assert.ok(e instanceof LlmdbgError, `not an LlmdbgError: ${String(e)}`);
      assert.equal(e.code, code, e.message);
      assert.match(e.message, re);
      assert.ok(!e.message.includes('\n'), 'one line');
      assert.ok(e.hint, 'has a way out');
      return true;
    });
    assert.equal(tf.memory().numTensors, n0, 'no tensor leaks on refusal');
  }

  it('unknown methods name the closest ones', async () => {
    await refuses({ method: 'hotfilp' as never }, 'unknown_method', /"hotfilp".*closest: hotflip/);
    await refuses({ method: 'gcc' as never }, 'unknown_method', /gcg/);
  });

  it('bad goals are invalid_goal', async () => {
    await refuses({ goal: { kind: 'targeted', targetIds: [] } }, 'invalid_goal', /targetIds/);
    await refuses({ goal: { kind: 'sideways' } as never }, 'invalid_goal', /sideways/);
    await refuses({ goal: undefined as never }, 'invalid_goal', /goal/);
    await refuses({ goal: { kind: 'untargeted', answerIds: [] } }, 'invalid_goal', /answerIds/);
    // input reduction needs the original prediction
    await refuses({ method: 'input-reduction', goal: { kind: 'targeted', targetIds: [3, 3, 3] } }, 'invalid_goal', /does not yield the target/);
    const ans = (await attack(model, { method: 'hotflip', ids: IDS, goal: { kind: 'untargeted' }, budget: { maxSteps: 1 }, candidates: 1 })).goal.answerIds![0]!;
    await refuses({ method: 'input-reduction', goal: { kind: 'untargeted', answerIds: [(ans + 1) % 64] } }, 'invalid_goal', /not the model's top-1/);
  });

  it('token ids and lengths are checked, including adversarial tokens and the target', async () => {
    await refuses({ ids: [1, 64] }, 'token_out_of_range', /64/);
    await refuses({ ids: [] }, 'empty_prompt', /no tokens/);
    await refuses({ goal: { kind: 'targeted', targetIds: [5, -1] } }, 'token_out_of_range', /targetIds\[1\]/);
    await refuses({ goal: { kind: 'untargeted', answerIds: [99] } }, 'token_out_of_range', /answerIds/);
    await refuses({ method: 'gcg', adv: { where: 'suffix', length: 4, initId: 64 } }, 'token_out_of_range', /initId/);
    await refuses({ method: 'gcg', adv: { where: 'suffix', length: 60 } }, 'prompt_too_long', /66 prompt tokens/);
    await refuses({ goal: { kind: 'targeted', targetIds: new Array(59).fill(3) } }, 'prompt_too_long', /59 new tokens/);
    await refuses({ vocab: { allow: [3, 70] } }, 'token_out_of_range', /allow/);
  });

  it('positions, options of other methods, budgets and sizes are invalid_argument', async () => {
    await refuses({ positions: [0, 6] }, 'invalid_argument', /position 6/);
    await refuses({ positions: [2, 2] }, 'invalid_argument', /twice/);
    await refuses({ positions: [] }, 'invalid_argument', /non-empty/);
    await refuses({ ids: [1] }, 'invalid_argument', /only the BOS/);
    await refuses({ topK: 4 }, 'invalid_argument', /topK does not apply to the hotflip attack/);
    await refuses({ method: 'gcg', beam: 2 }, 'invalid_argument', /beam .*gcg/);
    await refuses({ method: 'gcg', positions: [1] }, 'invalid_argument', /positions/);
    await refuses({ method: 'input-reduction', adv: { where: 'suffix', length: 2 } }, 'invalid_argument', /adv/);
    await refuses({ adv: { where: 'suffix', length: 2 }, positions: [1] }, 'invalid_argument', /do not combine/);
    await refuses({ method: 'gcg', adv: { where: 'middle' as never, length: 2 } }, 'invalid_argument', /middle/);
    await refuses({ method: 'gcg', adv: { where: 'suffix', length: 0 } }, 'invalid_argument', /adv.length/);
    await refuses({ budget: { maxSteps: 0 } }, 'invalid_argument', /maxSteps/);
    await refuses({ budget: { maxQueries: 2.5 } }, 'invalid_argument', /maxQueries/);
    await refuses({ budget: { maxTimeMs: -1 } }, 'invalid_argument', /maxTimeMs/);
    await refuses({ candidates: 0 }, 'invalid_argument', /candidates/);
    await refuses({ memoryMB: 0 }, 'invalid_argument', /memoryMB/);
    await refuses({ seed: -3 }, 'invalid_argument', /seed/);
  });

  it('an empty vocabulary is empty_vocabulary naming the filter', async () => {
    await refuses({ vocab: { allow: [1, 2] } }, 'empty_vocabulary', /allow list/);
    await refuses({ vocab: { deny: [...Array(64).keys()] } }, 'empty_vocabulary', /deny list/);
  });
});

describe('attack registry', () => {
  it('lists the three methods with defaults in the help', () => {
    assert.deepEqual(ATTACK_METHOD_NAMES, ['hotflip', 'input-reduction', 'gcg']);
    const help = attackMethodsHelp();
    for (const m of ATTACK_METHOD_NAMES) assert.match(help, new RegExp(`^  ${m} `, 'm'));
    assert.match(help, /gcg .*default steps: 50/);
    assert.equal(resolveAttackMethod('gcg'), 'gcg');
    assert.throws(() => resolveAttackMethod('input_reduction'), (e: unknown) => e instanceof LlmdbgError && e.code === 'unknown_method' && /input-reduction/.test(e.message));
  });
});
