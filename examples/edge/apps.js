// The edge function's apps, shared by build.js and the test: their names, where their builds go,
// and which of them this run builds and serves.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Everything build.js writes. */
export const build = join(dirname(fileURLToPath(import.meta.url)), 'build');

/** The apps: app/edge.js through componentize-js, app/edge.py through componentize-py. */
export const APPS = ['js', 'python'];

/** Where build.js writes an app's composition with the Runware component. */
export const composedWasm = (app) => join(build, app, 'composed.wasm');

/** The apps to build and test: all, or the comma-separated EDGE_APPS (for example `js`). */
export function selectedApps() {
  const chosen = process.env.EDGE_APPS ? process.env.EDGE_APPS.split(',').map((name) => name.trim()) : APPS;
  const unknown = chosen.filter((name) => !APPS.includes(name));
  if (unknown.length > 0) throw new Error(`EDGE_APPS names no app: ${unknown.join(', ')} (the apps: ${APPS.join(', ')})`);
  return chosen;
}
