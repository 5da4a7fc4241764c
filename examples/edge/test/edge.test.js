// Serves each app's build/<app>/composed.wasm (made by build.js, run by `npm test` first: the
// JavaScript and the Python app, or those EDGE_APPS names) with `jco serve --isolate-requests
// instance`, and with `wasmtime serve` when a `wasmtime` binary is on PATH (skipped otherwise,
// saying so), and checks the same endpoints of each against an emulator.
// Environment: RUNWARE_BASE_URL (an emulator's http://127.0.0.1:PORT/v1) and RUNWARE_API_KEY;
// without RUNWARE_BASE_URL the test starts one (`cargo run -p runware-emulator`).
// EDGE_BENCH=N also times N sequential requests per endpoint and prints their p50/p90.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { composedWasm, selectedApps } from '../apps.js';

const here = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const jco = join(here, 'node_modules/.bin/jco');
const READY_TIMEOUT_MS = 120_000;
// The emulator's `cargo run` builds it first, and on a target dir other builds share it waits
// for cargo's lock (a clean run here waited more than 120 s).
const EMULATOR_READY_TIMEOUT_MS = 900_000;

// A free loopback port (the kernel's pick, released for the child to take).
async function freePort() {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

// Starts `command` in its own process group (jco serve forks a child that keeps the port: the
// whole group must be stopped) and resolves once a line of its output matches `ready`. One that
// is not ready in `timeoutMs` is stopped: nothing else holds it to stop it later.
async function startGroup(command, args, env, ready, what, timeoutMs = READY_TIMEOUT_MS) {
  const child = spawn(command, args, { cwd: here, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = () => {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  };
  let output = '';
  const seen = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`${what} not ready after ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (chunk) => {
      output += chunk;
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}):\n${output}`));
    });
  });
  await seen;
  return { output: () => output, stop };
}

// Every import and export of a component, as `jco wit` (wasm-tools component wit) prints them:
// `export wasi:http/incoming-handler@0.2.12;`, or `export exports: interface {` for one declared
// inline.
function worldOf(wasm) {
  const wit = execFileSync(jco, ['wit', wasm], { encoding: 'utf8' });
  const names = (word) => [...wit.matchAll(new RegExp(`^\\s*${word} (\\S+?)(?:;|: interface \\{)`, 'gm'))].map((m) => m[1]);
  return { imports: names('import'), exports: names('export') };
}

// What each app's composition exports: the handler at the version its toolchain exports (build.js
// rewrites JavaScript's WASI to 0.2.10), and for Python also `exports`, componentize-py's
// pre-initialisation entry point (`init`), which it leaves in every component it makes.
const EXPORTS = {
  js: ['wasi:http/incoming-handler@0.2.10'],
  python: ['exports', 'wasi:http/incoming-handler@0.2.12'],
};

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG = [0xff, 0xd8, 0xff];

// Whether this Node's WebAssembly takes extended constant expressions (`i32.add` in a global's
// initialiser), which componentize-py's CPython uses. Node 20's V8 has them behind a flag, which
// jco serve hands on to the Node it runs the component in through JCO_RUN_ARGS (without it, the
// first request fails: `opcode i32.add is not allowed in constant expressions`).
const extendedConst = WebAssembly.validate(
  new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 6, 9, 1, 0x7f, 0, 0x41, 1, 0x41, 2, 0x6a, 0x0b]),
);

// The runtimes that serve a composition: how to start each on `port` with `env`.
const runtimes = {
  'jco serve': (composed, port, env) =>
    startGroup(
      jco,
      // --isolate-requests instance: a StarlingMonkey instance answers one request only.
      ['serve', '--isolate-requests', 'instance', '--host', '127.0.0.1', '--port', String(port), composed],
      extendedConst ? env : { ...env, JCO_RUN_ARGS: '--experimental-wasm-extended-const' },
      /Server listening/,
      'jco serve',
    ),
  // `--env NAME` without a value: the variable is inherited, so the key is not on a command line.
  'wasmtime serve': (composed, port, env) =>
    startGroup(
      'wasmtime',
      ['serve', '-S', 'cli', '--addr', `127.0.0.1:${port}`, '--env', 'RUNWARE_API_KEY', '--env', 'RUNWARE_BASE_URL', composed],
      env,
      /Serving HTTP on/,
      'wasmtime serve',
    ),
};

function wasmtimeOnPath() {
  try {
    execFileSync('wasmtime', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const cases = selectedApps().flatMap((app) => Object.entries(runtimes).map(([runtime, start]) => [app, runtime, start]));
for (const [app, runtime, startServer] of cases) {
  const composed = composedWasm(app);
  const skip = runtime === 'wasmtime serve' && !wasmtimeOnPath()
    ? 'no wasmtime binary on PATH: `cargo install --locked wasmtime-cli@48.0.8` to run these too'
    : false;
  describe(`edge function (${app} app, composed, under ${runtime})`, { skip }, () => {
    let emulator;
    let server;
    let base;

    before(async () => {
      const env = { ...process.env };
      env.RUNWARE_API_KEY ||= 'edge-test-key-not-a-real-one';
      if (!env.RUNWARE_BASE_URL) {
        const port = await freePort();
        emulator = await startGroup(
          'cargo',
          ['run', '--quiet', '-p', 'runware-emulator', '--bin', 'runware-emulator', '--', '--port', String(port)],
          env,
          /listening on http/,
          'the emulator',
          EMULATOR_READY_TIMEOUT_MS,
        );
        env.RUNWARE_BASE_URL = `http://127.0.0.1:${port}/v1`;
      }
      const port = await freePort();
      server = await startServer(composed, port, env);
      base = `http://127.0.0.1:${port}`;
    });

    after(() => {
      server?.stop();
      emulator?.stop();
    });

    test('the composition exports incoming-handler and imports only WASI (and the types-only runware:client/types)', () => {
      const { imports, exports } = worldOf(composed);
      assert.deepEqual(exports.toSorted(), EXPORTS[app]);
      const foreign = imports.filter((name) => !name.startsWith('wasi:') && !name.startsWith('runware:client/types@'));
      assert.deepEqual(foreign, [], 'imports other than WASI');
      assert.ok(!imports.some((name) => name.startsWith('runware:client/api')), 'runware:client/api is plugged in');
      assert.ok(imports.includes('wasi:http/outgoing-handler@0.2.12'), 'the client reaches the API through wasi:http');
    });

    test('GET /image answers a real image with its content type', async () => {
      const response = await fetch(`${base}/image?prompt=${encodeURIComponent('a lighthouse at dusk')}&size=256`);
      assert.equal(response.status, 200, await response.clone().text());
      assert.equal(response.headers.get('content-type'), 'image/png');
      const bytes = new Uint8Array(await response.arrayBuffer());
      assert.deepEqual([...bytes.subarray(0, 8)], PNG, 'PNG signature');
      // IHDR: width and height, big-endian, at bytes 16 and 20.
      const view = new DataView(bytes.buffer, bytes.byteOffset);
      assert.deepEqual([view.getUint32(16), view.getUint32(20)], [256, 256]);
      assert.match(response.headers.get('x-runware-task-uuid'), /^[0-9a-f-]{36}$/);

      const jpeg = await fetch(`${base}/image?prompt=${encodeURIComponent('a lighthouse at dusk')}&format=jpg&size=128`);
      assert.equal(jpeg.status, 200);
      assert.equal(jpeg.headers.get('content-type'), 'image/jpeg');
      assert.deepEqual([...new Uint8Array(await jpeg.arrayBuffer()).subarray(0, 3)], JPEG, 'JPEG signature');
    });

    test('GET /models answers the matching models as JSON', async () => {
      const response = await fetch(`${base}/models?search=flux&limit=3`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type'), /^application\/json/);
      const body = await response.json();
      assert.equal(typeof body.totalResults, 'number');
      assert.ok(body.totalResults >= body.models.length && body.models.length > 0 && body.models.length <= 3);
      for (const model of body.models) {
        assert.match(model.air, /^[a-z0-9]+:[^@]+@.+$/, 'an AIR');
        assert.ok(model.name);
        assert.ok(Array.isArray(model.tags));
      }
      assert.match(body.taskUUID, /^[0-9a-f-]{36}$/);
    });

    test('a bad size answers the typed error as JSON with 400', async () => {
      const response = await fetch(`${base}/image?prompt=${encodeURIComponent('a lighthouse at dusk')}&size=100`);
      assert.equal(response.status, 400);
      assert.match(response.headers.get('content-type'), /^application\/json/);
      const { error } = await response.json();
      assert.equal(error.kind, 'invalid-request');
      assert.equal(error.code, 'invalidWidth');
      assert.equal(error.parameter, 'width');
      assert.ok('taskUUID' in error, 'taskUUID is part of the error (null: nothing was sent)');
      assert.equal(error.attempts, 0, 'refused before anything was sent');
    });

    test('the app refuses what it cannot pass on, in the same shape', async () => {
      const response = await fetch(`${base}/image?size=256`);
      assert.equal(response.status, 400);
      const { error } = await response.json();
      assert.deepEqual([error.kind, error.code, error.parameter], ['invalid-request', 'missingPrompt', 'prompt']);
      // A name every JS object has is still not a format.
      const format = await fetch(`${base}/image?prompt=fox&format=toString`);
      assert.equal(format.status, 400);
      assert.equal((await format.json()).error.code, 'invalidFormat');
      assert.equal((await fetch(`${base}/elsewhere`)).status, 404);
    });

    const benchCount = Number(process.env.EDGE_BENCH ?? 0);
    test('timings (EDGE_BENCH=N)', { skip: benchCount > 0 ? false : 'set EDGE_BENCH=50 to time the endpoints' }, async () => {
      const paths = {
        models: '/models?search=flux&limit=3',
        'image 512 png': `/image?prompt=${encodeURIComponent('a red fox')}&size=512`,
        'invalid size': '/image?prompt=fox&size=100',
      };
      for (const [name, path] of Object.entries(paths)) {
        const times = [];
        for (let i = 0; i < benchCount; i++) {
          const start = performance.now();
          const response = await fetch(base + path);
          await response.arrayBuffer();
          times.push(performance.now() - start);
        }
        times.sort((a, b) => a - b);
        const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(1);
        console.log(`${name}: p50 ${at(0.5)} ms, p90 ${at(0.9)} ms over ${benchCount} sequential requests`);
      }
    });
  });
}
