// Moved to src/engine/rng.ts (the generator is shared by sampling, training and the demo corpus).
export * from '../engine/rng.js';
