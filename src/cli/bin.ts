/**
 * Process entry of the CLI: runs `main` with the process arguments and exits with its status
 * once stdout is flushed. `bin/llmdbg.js` loads the compiled copy; tests run this file through tsx.
 */
import { main } from './main.js';

const code = await main(process.argv.slice(2));
process.stdout.write('', () => process.exit(code));
