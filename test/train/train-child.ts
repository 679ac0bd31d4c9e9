/**
 * Child process for the kill-and-resume test: trains the toy setup with a checkpoint every 2
 * steps, slowly, until the parent SIGKILLs it. argv: <checkpointDir>.
 * Non-goals: anything else; it is killed, never expected to finish.
 */
import { useTestBackend } from '../helpers/backend.js';
import { train } from '../../src/train/trainer.js';
import { SlowSource, toyOptions, toySource } from './toy.js';

const [dir] = process.argv.slice(2) as [string];
await useTestBackend();
process.stdout.write('go\n');
await train({ ...toyOptions({ checkpointDir: dir, checkpointEvery: 2, resume: true }), data: new SlowSource(toySource(), 20) });
process.stdout.write('finished\n');
