// Builds the edge example's apps into build/ (run by `npm test` before the tests, or `npm run build`):
//   1. build/<app>/wit/: the apps' world (app/world.wit) with its deps generated from the
//      repository's wit/: runware:client's types.wit and client.wit as they are, and the vendored
//      WASI 0.2.12, for JavaScript rewritten to 0.2.10 (the version componentize-js 0.23's
//      engine exports), for Python as it is (componentize-py exports the world's version);
//   2. build/<app>/edge.wasm: app/edge.js through the componentize-js CLI, app/edge.py through
//      componentize-py (installed by this script into build/py-venv from app/requirements.txt);
//   3. build/<app>/composed.wasm: edge.wasm with the Runware component plugged in for
//      runware:client/api (`runware-compose plug`, the wac-graph code `wac plug` runs);
//   4. build/runware-client.wasm: the client's WIT as a binary WIT package (`runware-compose
//      wit-package`).
// <app> is js and python; EDGE_APPS=js (or python) builds one only.
// Environment: RUNWARE_COMPONENT (the component; default the one the host's build embeds,
// under $CARGO_TARGET_DIR or ../../target), RUNWARE_COMPOSE (a built runware-compose binary;
// default `cargo run -p runware-compose`), PYTHON (the python3 that makes the venv). Writes
// build/timings.json.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, composedWasm, selectedApps } from './apps.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const targetDir = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(root, 'target');
const component =
  process.env.RUNWARE_COMPONENT ?? join(targetDir, 'component/wasm32-wasip2/component/runware_guest.wasm');
if (!existsSync(component)) {
  console.error(`no component at ${component}: set RUNWARE_COMPONENT, or build it with \`cargo build -p runware-host\``);
  process.exit(2);
}

const timings = {};
function step(name, action) {
  const start = process.hrtime.bigint();
  action();
  timings[name] = Number((process.hrtime.bigint() - start) / 1_000_000n);
  console.log(`${name}: ${timings[name]} ms`);
}
const run = (command, args, options = {}) => execFileSync(command, args, { stdio: 'inherit', ...options });

// WASI 0.2.12 -> 0.2.10: every version, and the items 0.2.10 lacks (each gate is followed by
// one single-line item: wasi:cli/exit's exit-with-code is the only one).
function toWasi0210(text) {
  const lines = text.split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    if (/@since\(version = 0\.2\.1[1-2]\)/.test(lines[i])) {
      if (!lines[i + 1]?.trim().endsWith(';')) throw new Error(`a gated item over several lines: ${lines[i + 1]}`);
      i++;
      continue;
    }
    out.push(lines[i].replaceAll('@0.2.12', '@0.2.10'));
  }
  return out.join('\n');
}

const apps = selectedApps();
const bin = (name) => join(here, 'node_modules/.bin', name);

// Everything but the venv, which survives rebuilds (its marker says what it holds).
mkdirSync(build, { recursive: true });
for (const entry of readdirSync(build).filter((name) => name !== 'py-venv')) {
  rmSync(join(build, entry), { recursive: true, force: true });
}

// An app's WIT folder: the world, runware:client's interfaces, and WASI through `rewrite`.
function witFolder(app, rewrite) {
  const wit = join(build, app, 'wit');
  mkdirSync(join(wit, 'deps/runware-client'), { recursive: true });
  writeFileSync(join(wit, 'world.wit'), rewrite(readFileSync(join(here, 'app/world.wit'), 'utf8')));
  // The interfaces only: the component's own world imports WASI, which this WIT does not need.
  for (const file of ['types.wit', 'client.wit']) {
    writeFileSync(join(wit, 'deps/runware-client', file), readFileSync(join(root, 'wit', file)));
  }
  for (const file of readdirSync(join(root, 'wit/deps')).filter((f) => f.endsWith('.wit'))) {
    writeFileSync(join(wit, 'deps', file), rewrite(readFileSync(join(root, 'wit/deps', file), 'utf8')));
  }
  return wit;
}

// componentize-py in build/py-venv, installed once per requirements file.
function pythonVenv() {
  const venv = join(build, 'py-venv');
  const requirements = readFileSync(join(here, 'app/requirements.txt'), 'utf8');
  const marker = join(venv, '.requirements.txt');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === requirements) return venv;
  step('pip install componentize-py', () => {
    rmSync(venv, { recursive: true, force: true });
    const python = process.env.PYTHON ?? 'python3';
    try {
      run(python, ['-m', 'venv', venv]);
    } catch (error) {
      throw new Error(`\`${python} -m venv\` failed (Debian needs the python3-venv package): ${error.message}`);
    }
    run(join(venv, 'bin/python'), ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', join(here, 'app/requirements.txt')]);
    writeFileSync(marker, requirements);
  });
  return venv;
}

// How each app becomes build/<app>/edge.wasm.
const componentize = {
  js: () => {
    const wit = witFolder('js', toWasi0210);
    step('js: componentize', () =>
      run(bin('componentize-js'), ['--wit', wit, '--world-name', 'edge', '-o', join(build, 'js/edge.wasm'), join(here, 'app/edge.js')]),
    );
  },
  python: () => {
    const wit = witFolder('python', (text) => text);
    const venv = pythonVenv();
    // The app's folder holds edge.py only: componentize-py bundles what is on its path.
    const source = join(build, 'python/app');
    mkdirSync(source);
    writeFileSync(join(source, 'edge.py'), readFileSync(join(here, 'app/edge.py')));
    step('python: componentize', () =>
      run(
        join(venv, 'bin/componentize-py'),
        ['--quiet', '-d', wit, '-w', 'edge', 'componentize', '-p', source, '-o', join(build, 'python/edge.wasm'), 'edge'],
        // The venv's site-packages joins the app's path (only what edge.py imports is bundled,
        // and it imports nothing from there); without VIRTUAL_ENV it would be the system's.
        { env: { ...process.env, VIRTUAL_ENV: venv } },
      ),
    );
  },
};
for (const app of apps) componentize[app]();

// The compose tool: built once by cargo (its own step, so the compose time is the tool's alone).
let compose = process.env.RUNWARE_COMPOSE;
if (!compose) {
  step('cargo build runware-compose', () =>
    run('cargo', ['build', '--quiet', '--locked', '-p', 'runware-compose'], { cwd: root }),
  );
  compose = join(targetDir, 'debug/runware-compose');
}
for (const app of apps) {
  step(`${app}: compose`, () =>
    run(compose, ['plug', '--plug', component, '-o', composedWasm(app), join(build, app, 'edge.wasm')]),
  );
}
step('wit-package', () => run(compose, ['wit-package', join(root, 'wit'), '-o', join(build, 'runware-client.wasm')]));

const sizes = { 'runware-client.wasm': statSync(join(build, 'runware-client.wasm')).size };
for (const app of apps) {
  for (const file of ['edge.wasm', 'composed.wasm']) sizes[`${app}/${file}`] = statSync(join(build, app, file)).size;
}
sizes['runware_guest.wasm'] = statSync(component).size;
console.log('sizes (bytes):', sizes);
writeFileSync(join(build, 'timings.json'), JSON.stringify({ timings, sizes }, null, 2));
