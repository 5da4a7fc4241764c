// Transpiles the component at $RUNWARE_COMPONENT into ./transpiled with jco: ES module glue
// (runware.js) plus the core wasm modules it compiles. Run by `npm test` before the tests.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transpile } from '@bytecodealliance/jco';

const component = process.env.RUNWARE_COMPONENT;
if (!component) {
  console.error('RUNWARE_COMPONENT must name the component to transpile (runware_guest.wasm)');
  process.exit(2);
}
const outDir = join(dirname(fileURLToPath(import.meta.url)), 'transpiled');

const { files } = await transpile(await readFile(component), {
  name: 'runware',
  // The host passes the WASI imports itself (see runware.js), so it decides what the component
  // can reach: no environment variables, no arguments.
  instantiation: 'async',
  noTypescript: true,
  quiet: true,
});
await rm(outDir, { recursive: true, force: true });
for (const [name, bytes] of Object.entries(files)) {
  const path = join(outDir, name);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
}
console.log(`transpiled ${component} -> ${outDir}`);
