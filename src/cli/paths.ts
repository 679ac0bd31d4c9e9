/**
 * Locations inside the installed package (works from src/ through tsx and from dist/ after a build).
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The package root: two levels above this file in both src/cli and dist/cli. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DEFAULT_MODEL_DIR = join(PACKAGE_ROOT, 'models', 'demo');
