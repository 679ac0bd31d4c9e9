/**
 * Child process for the crash-injection test: rewrites one file forever with the atomic writer, so the
 * parent can SIGKILL it at random moments. argv: <target> <sync|async> <size> <first version>.
 * Prints "go" after its first complete write. Non-goals: anything else; it never exits on its own.
 */

import { writeFileAtomic, writeFileAtomicSync } from '../../src/util/atomic-write.js';
import { versionContent } from './atomic-write-versions.js';

const [target, mode, sizeArg, startArg] = process.argv.slice(2) as [string, string, string, string];
const size = Number(sizeArg);
let k = Number(startArg);
if (mode === 'sync') {
  writeFileAtomicSync(target, versionContent(k++, size));
  process.stdout.write('go\n');
  for (;;) writeFileAtomicSync(target, versionContent(k++, size));
} else {
  await writeFileAtomic(target, versionContent(k++, size));
  process.stdout.write('go\n');
  for (;;) await writeFileAtomic(target, versionContent(k++, size));
}
