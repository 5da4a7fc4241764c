// Builds the edge example into build/ (run by `npm test` before the tests, or `npm run build`):
//   1. build/wit/: the app's world (app/world.wit) with its deps generated from the repository's
//      wit/: runware:client's types.wit and client.wit as they are, the vendored WASI 0.2.12
//      rewritten to 0.2.10 (the version componentize-js 0.23's engine exports);
//   2. build/edge.wasm: app/edge.js through the componentize-js CLI;
//   3. build/composed.wasm: edge.wasm with the Runware component plugged in for
//      runware:client/api (`runware-compose plug`, the wac-graph code `wac plug` runs);
//   4. build/runware-client.wasm: the client's WIT as a binary WIT package (`runware-compose
//      wit-package`).
// Environment: RUNWARE_COMPONENT (the component; default the one the host's build embeds,
// under $CARGO_TARGET_DIR or ../../target), RUNWARE_COMPOSE (a built runware-compose binary;
// default `cargo run -p runware-compose`). Writes build/timings.json.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const build = join(here, 'build');
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

step('wit', () => {
  rmSync(build, { recursive: true, force: true });
  const wit = join(build, 'wit');
  mkdirSync(join(wit, 'deps/runware-client'), { recursive: true });
  writeFileSync(join(wit, 'world.wit'), readFileSync(join(here, 'app/world.wit')));
  // The interfaces only: the component's own world imports WASI 0.2.12, which this WIT lacks.
  for (const file of ['types.wit', 'client.wit']) {
    writeFileSync(join(wit, 'deps/runware-client', file), readFileSync(join(root, 'wit', file)));
  }
  for (const file of readdirSync(join(root, 'wit/deps')).filter((f) => f.endsWith('.wit'))) {
    writeFileSync(join(wit, 'deps', file), toWasi0210(readFileSync(join(root, 'wit/deps', file), 'utf8')));
  }
});

const bin = (name) => join(here, 'node_modules/.bin', name);
step('componentize', () =>
  run(bin('componentize-js'), ['--wit', join(build, 'wit'), '--world-name', 'edge', '-o', join(build, 'edge.wasm'), join(here, 'app/edge.js')]),
);

// The compose tool: built once by cargo (its own step, so the compose time is the tool's alone).
let compose = process.env.RUNWARE_COMPOSE;
if (!compose) {
  step('cargo build runware-compose', () =>
    run('cargo', ['build', '--quiet', '--locked', '-p', 'runware-compose'], { cwd: root }),
  );
  compose = join(targetDir, 'debug/runware-compose');
}
step('compose', () =>
  run(compose, ['plug', '--plug', component, '-o', join(build, 'composed.wasm'), join(build, 'edge.wasm')]),
);
step('wit-package', () => run(compose, ['wit-package', join(root, 'wit'), '-o', join(build, 'runware-client.wasm')]));

const sizes = Object.fromEntries(
  ['edge.wasm', 'composed.wasm', 'runware-client.wasm'].map((f) => [f, statSync(join(build, f)).size]),
);
sizes['runware_guest.wasm'] = statSync(component).size;
console.log('sizes (bytes):', sizes);
writeFileSync(join(build, 'timings.json'), JSON.stringify({ timings, sizes }, null, 2));
