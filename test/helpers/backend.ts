/**
 * Test backend: LLMDBG_TEST_BACKEND (or LLMDBG_BACKEND) chooses it, WASM by default. test/run.mjs runs
 * the suite once per backend (WASM, then native) and sets both variables for each pass, so a test
 * that spawns the CLI runs it on the same backend. Files that do not depend on the backend declare
 * `// test-backends: once` in their header and run in the first pass only.
 */
import { initBackend, type BackendChoice, type BackendInfo } from '../../src/engine/backend.js';

export function testBackendChoice(): BackendChoice {
  return (process.env['LLMDBG_TEST_BACKEND'] ?? process.env['LLMDBG_BACKEND'] ?? 'wasm') as BackendChoice;
}

export async function useTestBackend(): Promise<BackendInfo> {
  return initBackend(testBackendChoice());
}
