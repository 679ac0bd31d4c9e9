/**
 * Adversarial training: `harden()` (attack rounds or embedding perturbations, held-out scores
 * before and after), the hardening data format and its evaluation, and the embedding-perturbation
 * trainer hook. Non-goals: the attacks (src/methods/adversarial) and printing (the CLI).
 */
export { harden, resolveRecipe, checkOutDir, HARDEN_DEFAULTS } from './harden.js';
export { HARDEN_METHODS, type HardenMethod, type HardenOptions, type HardenProgress, type HardenRecipe, type HardenResult, type RoundLog } from './types.js';
export { parseHardenData, readHardenData, tokenizeHardenData, splitHeldOut, answerExample, type HardenItem, type HardenRecord, type ParsedHardenData } from './data.js';
export { answersCorrect, cleanScore, evaluateHeldOut, attackRequest, attackSeed, HARDEN_ATTACKS, type HardenAttack, type AttackFn, type AttackSettings, type AttackScore, type AttackItem, type CleanScore, type HeldOutScores } from './evaluate.js';
export { embeddingAdversarialHook, embeddingPerturbation, embedScale, lossOnEmbeds, tokenEmbeds, checkEmbeddingOptions, type EmbeddingAdvOptions } from './embedding.js';
export { mixExamples, withAdvTokens, randomAdvExamples } from './mix.js';
