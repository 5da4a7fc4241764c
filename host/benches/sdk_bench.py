"""Times Runware's official Python SDK (`runware-sdk`) over REST against the emulator.

Run by `host/benches/bench/sdk.rs` with the venv `emulator/tests/it/sdk_conformance.rs` creates
(`target/sdk-venv`: run `cargo test -p runware-emulator --test it sdk_conformance` once).
Environment: RUNWARE_BENCH_URL (http://127.0.0.1:PORT/v1), RUNWARE_BENCH_KEY (a throwaway key
the emulator accepts; never printed), RUNWARE_BENCH_N (timed calls), RUNWARE_BENCH_WARMUP
(untimed calls first).

Prints one JSON line: {"sdkVersion": ..., "samplesUs": [...]}, one sample per sequential
`imageInference` call (the same request as the Rust benchmark: 512x512 JPG, sync) on one client.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import time
import uuid

from runware import Runware

URL = os.environ["RUNWARE_BENCH_URL"]
KEY = os.environ["RUNWARE_BENCH_KEY"]
N = int(os.environ.get("RUNWARE_BENCH_N", "300"))
WARMUP = int(os.environ.get("RUNWARE_BENCH_WARMUP", "20"))


def task() -> dict:
    return {
        "taskType": "imageInference",
        "taskUUID": str(uuid.uuid4()),
        "model": "runware:101@1",
        "positivePrompt": "a lighthouse on a cliff at dusk",
        "width": 512,
        "height": 512,
        "outputFormat": "JPG",
        "outputType": "URL",
        "deliveryMethod": "sync",
    }


async def main() -> None:
    samples = []
    async with Runware(api_key=KEY, transport="rest", http_base_url=URL) as rw:
        for i in range(WARMUP + N):
            start = time.perf_counter()
            items = await rw.run(task())
            elapsed = time.perf_counter() - start
            if not items or not items[0].get("imageURL"):
                raise SystemExit("the SDK returned no imageURL")
            if i >= WARMUP:
                samples.append(round(elapsed * 1e6, 1))
    print(json.dumps({"sdkVersion": importlib.metadata.version("runware-sdk"), "samplesUs": samples}))


asyncio.run(main())
