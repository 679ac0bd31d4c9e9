/**
 * Test backend: LLMDBG_TEST_BACKEND (or LLMDBG_BACKEND) chooses it, WASM by default, so the same
 * suite runs once per backend (`npm test` runs WASM; `npm run test:native` the native addon).
 */
import { initBackend, type BackendChoice, type BackendInfo } from '../../src/engine/backend.js';

export function testBackendChoice(): BackendChoice {
  return (process.env['LLMDBG_TEST_BACKEND'] ?? process.env['LLMDBG_BACKEND'] ?? 'wasm') as BackendChoice;
}

export async function useTestBackend(): Promise<BackendInfo> {
  return initBackend(testBackendChoice());
}
