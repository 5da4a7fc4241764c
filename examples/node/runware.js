// The Runware client component in Node: instantiates the jco-transpiled component with the
// WASI preview 2 shim and returns its `runware:client/api` interface (the `Client` class).
import { readFile } from 'node:fs/promises';
import { WASIShim } from '@bytecodealliance/preview2-shim/instantiation';
import { instantiate } from './transpiled/runware.js';

const dir = new URL('./transpiled/', import.meta.url);

/**
 * Instantiates the component and returns `{ Client }`: `Client.open(options)` and its methods
 * (`textToImage`, `modelSearch`, `runTasks`, …). A call that fails throws a `ComponentError`
 * whose `payload` is the WIT `error` record, `{ kind: 'invalid-request', detail: { code, … } }`.
 */
export async function loadRunware() {
  // The component sees an empty environment: whatever it needs (the API key) the host hands it
  // explicitly in `client-options`. The shim's default would be the whole of `process.env`.
  const wasi = new WASIShim({ sandbox: { env: {}, args: ['runware'] } });
  const root = await instantiate(
    async (name) => WebAssembly.compile(await readFile(new URL(name, dir))),
    wasi.getImportObject(),
  );
  return root.api;
}
