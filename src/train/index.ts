/**
 * The trainer's public surface: `train()` and the pieces it is made of (data sources, dataset
 * files, AdamW, schedule, clipping, loss, checkpoints, gradient registration).
 * Non-goals: anything printed; the CLI (`llmdbg train`) formats progress.
 */
export { train, type TrainOptions, type TrainProgress, type TrainResult } from './trainer.js';
export { ExampleSource, FixedBatchSource, batchFromRows, type TokenBatch, type TokenBatchSource, type TokenExample, type ExampleSourceOptions } from './data.js';
export { parseDataset, readDataset, toExamples, badLinesError, type DatasetRecord, type BadLine, type ParsedDataset } from './dataset-file.js';
export { AdamW, ADAMW_DEFAULTS, type AdamWOptions, type AdamWState } from './adamw.js';
export { lrAt, checkSchedule, type ScheduleOptions } from './schedule.js';
export { clipByGlobalNorm } from './clip.js';
export { maskedCrossEntropy } from './loss.js';
export { findLatestCheckpoint, listCheckpoints, readTrainerState, type TrainerState, type TrainRecipe } from './checkpoint.js';
export { makeTrainable, decayNames, type Trainable } from './trainable.js';
export { registerGradients } from '../engine/gradients.js';
export { registerFastWasmMatMul } from '../engine/wasm-matmul.js';
