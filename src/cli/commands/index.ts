/**
 * The command registry: `llmdbg <command>` dispatch, help and "did you mean" all read this list.
 */
import type { Command } from './types.js';
import { generateCommand } from './generate.js';
import { logitsCommand } from './logits.js';
import { cacheCommand } from './cache.js';
import { inspectCommand } from './inspect.js';
import { benchCommand } from './bench.js';
import { replayCommand } from './replay.js';
import { diffCommand } from './diff.js';
import { evalCommand } from './eval.js';
import { demoCommand } from './demo.js';
import { attentionCommand } from './attention.js';
import { interveneCommand } from './intervene.js';
import { patchCommand } from './patch.js';
import { traceCausalCommand } from './trace-causal.js';
import { lensCommand } from './lens.js';
import { healthCommand } from './health.js';
import { debugCommand } from './debug.js';
import { dumpCommand } from './dump.js';
import { trainCommand } from './train.js';
import { attributeCommand } from './attribute.js';
import { gradientsCommand } from './gradients.js';
import { attackCommand } from './attack.js';
import { hardenCommand } from './harden.js';

export const COMMANDS: readonly Command[] = [demoCommand, inspectCommand, generateCommand, logitsCommand, cacheCommand, replayCommand, diffCommand, evalCommand, benchCommand, attentionCommand, interveneCommand, patchCommand, traceCausalCommand, lensCommand, healthCommand, debugCommand, dumpCommand, trainCommand, attributeCommand, gradientsCommand, attackCommand, hardenCommand];
