/**
 * Runs the llmdbg CLI from source through tsx (no dist/ build needed), for the CLI and terminal
 * tests: `node --import tsx test/debugger/run-cli.ts <command> [options]`.
 */
import { main } from '../../src/cli/main.js';

const code = await main(process.argv.slice(2));
process.stdout.write('', () => process.exit(code));
