// Runs the shared scenario (examples/scenario.json) through the component under Node.
// Environment: RUNWARE_COMPONENT (transpiled by `npm test`), RUNWARE_BASE_URL (an emulator's
// http://127.0.0.1:PORT/v1) and RUNWARE_API_KEY (a key that emulator accepts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { loadRunware } from '../runware.js';

const scenario = JSON.parse(readFileSync(new URL('../../scenario.json', import.meta.url), 'utf8'));

// The scenario uses WIT names (kebab-case); jco uses camelCase for record fields.
const camel = (name) => name.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
const toJs = (value) =>
  Array.isArray(value)
    ? value.map(toJs)
    : value !== null && typeof value === 'object'
      ? Object.fromEntries(Object.entries(value).map(([k, v]) => [camel(k), toJs(v)]))
      : value;

function env(name) {
  const value = process.env[name];
  assert.ok(value, `${name} must be set`);
  return value;
}

describe('scenario', () => {
  let client;

  before(async () => {
    const { Client } = await loadRunware();
    // The key stays with the host: read from this process's environment, handed to the
    // component only as client-options.api-key (jco's shim has no hook to add the header).
    const options = { ...toJs(scenario.client), apiKey: env('RUNWARE_API_KEY'), baseUrl: env('RUNWARE_BASE_URL') };
    try {
      client = Client.open(options);
    } catch (error) {
      throw new Error(`Client.open failed: ${JSON.stringify(error.payload ?? String(error))}`);
    }
  });

  after(() => client?.[Symbol.dispose]?.());

  for (const step of scenario.steps) {
    test(step.name, () => {
      const call = { 'model-search': 'modelSearch', 'text-to-image': 'textToImage', account: 'account' }[step.call];
      const args = 'request' in step ? [toJs(step.request)] : [];
      if (step.expect.err) {
        const want = step.expect.err;
        assert.throws(
          () => client[call](...args),
          (error) => {
            assert.ok(error.payload, `not a ComponentError: ${error}`);
            assert.equal(error.payload.kind, want.case);
            for (const field of ['code', 'parameter', 'attempts', 'retryable']) {
              if (field in want) assert.equal(error.payload.detail[field], want[field], field);
            }
            return true;
          },
        );
        return;
      }
      let result;
      try {
        result = client[call](...args);
      } catch (error) {
        assert.fail(`${step.name}: ${JSON.stringify(error.payload ?? String(error))}`);
      }
      const want = step.expect.ok;
      if (step.call === 'account') {
        assert.equal(result.currency, want.currency);
        assert.ok(result.balance >= want['min-balance'], 'balance');
        assert.equal(typeof JSON.parse(result.json), 'object');
      } else if (step.call === 'model-search') {
        assert.ok(Number(result.totalResults) >= want['min-total-results'], 'total-results'); // u64: BigInt
        assert.equal(result.results.length, want.results);
        for (const model of result.results) {
          for (const field of want['every-result-has']) assert.ok(model[camel(field)], `model without ${field}`);
          assert.equal(typeof JSON.parse(model.json), 'object');
        }
      } else {
        assert.equal(result.images.length, want.images);
        for (const image of result.images) {
          assert.equal(image.taskUuid, result.taskUuid);
          for (const field of want['every-image-has']) assert.ok(image[camel(field)], `image without ${field}`);
        }
        assert.equal(new Set(result.images.map((i) => i.imageUuid)).size, want.images);
        assert.ok('data' in JSON.parse(result.responseJson));
      }
    });
  }
});
