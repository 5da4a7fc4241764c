"""Drive Runware's official Python SDK (`runware-sdk` 1.8.x) against the emulator.

Run by `emulator/tests/it/sdk_conformance.rs`, which starts the emulator and passes:

    RUNWARE_EMULATOR_HTTP        http://127.0.0.1:PORT/v1   (REST endpoint)
    RUNWARE_EMULATOR_WS          ws://127.0.0.1:PORT/v1     (WebSocket endpoint)
    RUNWARE_EMULATOR_KEY         an API key the emulator accepts (a throwaway test key)
    RUNWARE_CONFORMANCE_TRANSPORTS  optional, default "rest,websocket"

Prints one JSON object per line and per check:
    {"check": "...", "transport": "rest"|"websocket", "ok": true|false, "detail": ..., "seconds": ...}
then a summary line {"summary": {"passed": N, "failed": M}}; exits 1 when any check failed.
The API key is never printed: any text that could contain it is redacted.

To run it by hand against a running emulator (after the Rust test created the venv):

    runware-emulator --port 8080 --api-key "test-$RANDOM" &   # or `runware emulate`
    RUNWARE_EMULATOR_HTTP=http://127.0.0.1:8080/v1 RUNWARE_EMULATOR_WS=ws://127.0.0.1:8080/v1 \
    RUNWARE_EMULATOR_KEY=<that key> target/sdk-venv/bin/python emulator/tests/sdk_conformance/conformance.py
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import struct
import sys
import time
import traceback
import uuid
from typing import Any, Awaitable, Callable

import aiohttp
from runware import Runware, RunwareError

HTTP_URL = os.environ["RUNWARE_EMULATOR_HTTP"]
WS_URL = os.environ["RUNWARE_EMULATOR_WS"]
KEY = os.environ["RUNWARE_EMULATOR_KEY"]
TRANSPORTS = [
    t.strip()
    for t in os.environ.get("RUNWARE_CONFORMANCE_TRANSPORTS", "rest,websocket").split(",")
    if t.strip()
]
CHECK_TIMEOUT_SECONDS = 60.0


class CheckFailed(Exception):
    """A conformance expectation did not hold."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def redact(text: str) -> str:
    return text.replace(KEY, "[REDACTED]")


def client(transport: str, api_key: str = KEY) -> Runware:
    """An SDK client pointed at the emulator. Retries stay at the SDK's defaults."""
    if transport == "rest":
        return Runware(api_key=api_key, transport="rest", http_base_url=HTTP_URL)
    return Runware(api_key=api_key, transport="websocket", ws_base_url=WS_URL)


# --------------------------------------------------------------------- image checks


def image_size(data: bytes) -> tuple[str, int, int]:
    """(format, width, height) from the encoded bytes, without any imaging library."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        width, height = struct.unpack(">II", data[16:24])
        return "PNG", width, height
    if data[:3] == b"\xff\xd8\xff":
        i = 2
        while i + 9 < len(data):
            expect(data[i] == 0xFF, f"bad JPEG marker at byte {i}")
            marker = data[i + 1]
            length = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return "JPG", width, height
            i += 2 + length
        raise CheckFailed("JPEG without a SOF marker")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        chunk = data[12:16]
        if chunk == b"VP8L":
            bits = int.from_bytes(data[21:25], "little")
            return "WEBP", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if chunk == b"VP8X":
            width = int.from_bytes(data[24:27], "little") + 1
            height = int.from_bytes(data[27:30], "little") + 1
            return "WEBP", width, height
        if chunk == b"VP8 ":
            width, height = struct.unpack("<HH", data[26:30])
            return "WEBP", width & 0x3FFF, height & 0x3FFF
        raise CheckFailed(f"unknown WEBP chunk {chunk!r}")
    raise CheckFailed(f"not a PNG, JPG or WEBP image (starts {data[:12]!r})")


async def download(url: str) -> bytes:
    expect(
        url.startswith(HTTP_URL.rsplit("/v1", 1)[0]),
        f"imageURL {url!r} is not served by the emulator",
    )
    async with aiohttp.ClientSession() as session:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=30)) as resp:
            expect(resp.status == 200, f"GET {url} answered {resp.status}")
            return await resp.read()


async def check_images(
    items: list[dict[str, Any]],
    *,
    task_uuid: str,
    count: int,
    fmt: str,
    width: int,
    height: int,
) -> dict[str, Any]:
    expect(len(items) == count, f"expected {count} results, got {len(items)}: {items!r}")
    uuids = set()
    seeds = set()
    for item in items:
        expect(item.get("taskType") == "imageInference", f"taskType in {item!r}")
        expect(item.get("taskUUID") == task_uuid, f"taskUUID in {item!r}")
        expect(isinstance(item.get("imageUUID"), str) and item["imageUUID"], f"imageUUID in {item!r}")
        expect(isinstance(item.get("seed"), int), f"seed in {item!r}")
        expect(isinstance(item.get("imageURL"), str), f"imageURL in {item!r}")
        uuids.add(item["imageUUID"])
        seeds.add(item["seed"])
        got = image_size(await download(item["imageURL"]))
        expect(got == (fmt, width, height), f"downloaded {got}, expected {(fmt, width, height)}")
    expect(len(uuids) == count, f"imageUUIDs not distinct: {uuids}")
    expect(len(seeds) == count, f"seeds not distinct: {seeds}")
    return {"taskUUID": task_uuid, "images": count, "format": fmt, "size": [width, height]}


# --------------------------------------------------------------------- the checks


async def model_search(transport: str) -> dict[str, Any]:
    async with client(transport) as rw:
        found = await rw.model_search({"search": "flux", "limit": 5})
        expect(len(found) == 1, f"one modelSearch item expected, got {found!r}")
        page = found[0]
        expect(page.get("taskType") == "modelSearch", f"taskType in {page!r}")
        results = page.get("results")
        total = page.get("totalResults")
        expect(isinstance(results, list) and 1 <= len(results) <= 5, f"results: {results!r}")
        expect(isinstance(total, int) and total >= len(results), f"totalResults: {total!r}")
        for model in results:
            expect(isinstance(model.get("air"), str) and "@" in model["air"], f"air in {model!r}")
            expect(isinstance(model.get("tags"), list), f"tags in {model!r}")
            expect(isinstance(model.get("private"), bool), f"private in {model!r}")
        expect("flux" in results[0]["name"].lower(), f"best match {results[0]['name']!r}")

        filtered = await rw.model_search(
            {"category": "checkpoint", "architecture": "sdxl", "visibility": "public", "limit": 100}
        )
        models = filtered[0]["results"]
        expect(models, "no public SDXL checkpoints")
        for model in models:
            expect(
                (model["category"], model["architecture"], model["private"])
                == ("checkpoint", "sdxl", False),
                f"filter not applied: {model!r}",
            )
        return {"totalResults": total, "best": results[0]["air"], "sdxlCheckpoints": len(models)}


async def image_sync(transport: str) -> dict[str, Any]:
    task_uuid = str(uuid.uuid4())
    async with client(transport) as rw:
        items = await rw.run(
            {
                "taskType": "imageInference",
                "taskUUID": task_uuid,
                "model": "runware:101@1",
                "positivePrompt": "a lighthouse on a cliff at dusk",
                "width": 512,
                "height": 384,
                "numberResults": 2,
                "outputFormat": "PNG",
                "outputType": "URL",
                "includeCost": True,
                "deliveryMethod": "sync",
            }
        )
        detail = await check_images(
            items, task_uuid=task_uuid, count=2, fmt="PNG", width=512, height=384
        )
        for item in items:
            expect(isinstance(item.get("cost"), (int, float)), f"cost with includeCost: {item!r}")
        return detail


async def image_sync_base64(transport: str) -> dict[str, Any]:
    import base64

    task_uuid = str(uuid.uuid4())
    async with client(transport) as rw:
        items = await rw.run(
            {
                "taskType": "imageInference",
                "taskUUID": task_uuid,
                "model": "runware:100@1",
                "positivePrompt": "pine forest at night",
                "width": 256,
                "height": 320,
                "outputFormat": "jpg",
                "outputType": "base64Data",
                "deliveryMethod": "sync",
            }
        )
        expect(len(items) == 1, f"one result expected: {items!r}")
        item = items[0]
        expect("cost" not in item, f"cost without includeCost: {item!r}")
        data = base64.b64decode(item["imageBase64Data"])
        got = image_size(data)
        expect(got == ("JPG", 256, 320), f"decoded {got}")
        return {"taskUUID": task_uuid, "bytes": len(data)}


async def image_async(transport: str) -> dict[str, Any]:
    task_uuid = str(uuid.uuid4())
    results_seen: list[dict[str, Any]] = []
    from runware import RunOptions

    async with client(transport) as rw:
        items = await rw.run(
            {
                "taskType": "imageInference",
                "taskUUID": task_uuid,
                "model": "runware:101@1",
                "positivePrompt": "a quiet lake at sunset",
                "width": 256,
                "height": 256,
                "outputFormat": "WEBP",
                "deliveryMethod": "async",
            },
            RunOptions(on_result=results_seen.append),
        )
        detail = await check_images(
            items, task_uuid=task_uuid, count=1, fmt="WEBP", width=256, height=256
        )
        expect(items[0].get("status") == "success", f"status in {items[0]!r}")
        expect(len(results_seen) == 1, f"on_result fired {len(results_seen)} times")
        return detail


async def bad_width(transport: str) -> dict[str, Any]:
    task_uuid = str(uuid.uuid4())
    async with client(transport) as rw:
        try:
            await rw.run(
                {
                    "taskType": "imageInference",
                    "taskUUID": task_uuid,
                    "model": "runware:101@1",
                    "positivePrompt": "a lighthouse",
                    "width": 500,
                    "height": 512,
                    "deliveryMethod": "sync",
                }
            )
        except RunwareError as err:
            expect(err.code == "validation", f"code {err.code!r}: {err!r}")
            expect(err.parameter == "width", f"parameter {err.parameter!r}: {err!r}")
            expect(err.task_uuid == task_uuid, f"task_uuid {err.task_uuid!r}")
            expect(err.retryable is False, "a validation error must not be retryable")
            if transport == "rest":
                expect(err.status_code == 400, f"status_code {err.status_code!r}")
            return {"taskUUID": task_uuid, "error": redact(repr(err))}
        raise CheckFailed("width 500 was accepted")


async def bad_key(transport: str) -> dict[str, Any]:
    wrong = f"wrong-{uuid.uuid4()}"
    rw = client(transport, api_key=wrong)
    try:
        await rw.connect()
        await rw.model_search({"search": "flux"})
    except RunwareError as err:
        expect(err.code == "auth", f"code {err.code!r}: {err!r}")
        expect(err.retryable is False, "an auth error must not be retryable")
        if transport == "rest":
            expect(err.status_code == 401, f"status_code {err.status_code!r}")
        return {"error": redact(repr(err)).replace(wrong, "[REDACTED]")}
    finally:
        await rw.close()
    raise CheckFailed("a wrong API key was accepted")


async def utilities(transport: str) -> dict[str, Any]:
    """imageUpload, caption, upscale, removeBackground, promptEnhance and getTaskDetails."""
    import base64

    async with client(transport) as rw:
        gen_uuid = str(uuid.uuid4())
        generated = await rw.run(
            {
                "taskType": "imageInference",
                "taskUUID": gen_uuid,
                "model": "runware:100@1",
                "positivePrompt": "snowy winter peaks",
                "width": 192,
                "height": 128,
                "outputFormat": "PNG",
                "outputType": "base64Data",
                "deliveryMethod": "sync",
            }
        )
        png = base64.b64decode(generated[0]["imageBase64Data"])
        uploaded = await rw.image_upload(
            {"image": "data:image/png;base64," + base64.b64encode(png).decode()}
        )
        expect(len(uploaded) == 1, f"imageUpload: {uploaded!r}")
        image_uuid = uploaded[0].get("imageUUID")
        expect(isinstance(image_uuid, str) and image_uuid, f"imageUpload: {uploaded!r}")

        captioned = await rw.run(
            {"taskType": "caption", "inputImage": image_uuid, "model": "runware:150@2"}
        )
        text = captioned[0].get("text")
        expect(isinstance(text, str) and text, f"caption: {captioned!r}")

        upscaled = await rw.run(
            {
                "taskType": "upscale",
                "inputImage": image_uuid,
                "upscaleFactor": 2,
                "model": "runware:503@1",
                "outputFormat": "PNG",
            }
        )
        expect(upscaled[0].get("inputImageUUID") == image_uuid, f"upscale: {upscaled!r}")
        got = image_size(await download(upscaled[0]["imageURL"]))
        expect(got == ("PNG", 384, 256), f"upscaled image {got}")

        cut_out = await rw.run(
            {"taskType": "removeBackground", "inputImage": image_uuid, "model": "runware:109@1"}
        )
        got = image_size(await download(cut_out[0]["imageURL"]))
        expect(got == ("PNG", 192, 128), f"removeBackground default output {got}")

        enhanced = await rw.run(
            {"taskType": "promptEnhance", "prompt": "a cat", "promptMaxLength": 64, "promptVersions": 1}
        )
        expect(
            isinstance(enhanced[0].get("text"), str) and "cat" in enhanced[0]["text"],
            f"promptEnhance: {enhanced!r}",
        )

        details = await rw.get_task_details({"taskUUID": gen_uuid})
        expect(
            len(details) == 1 and details[0].get("request", [{}])[0].get("taskUUID") == gen_uuid,
            f"getTaskDetails: {json.dumps(details)[:300]}",
        )
        return {"taskUUID": gen_uuid, "caption": text}


ADMIN_URL = HTTP_URL.rsplit("/v1", 1)[0] + "/__emulator"


async def admin(method: str, path: str, body: Any = None) -> Any:
    """Calls the emulator's admin API (no key needed)."""
    async with aiohttp.ClientSession() as session:
        async with session.request(
            method, f"{ADMIN_URL}/{path}", json=body, timeout=aiohttp.ClientTimeout(total=10)
        ) as resp:
            expect(resp.status in (200, 201), f"admin {method} {path}: HTTP {resp.status}")
            return await resp.json()


async def async_processing(transport: str) -> dict[str, Any]:
    """An async task that stays `processing` for a while: the SDK must keep polling."""
    task_uuid = str(uuid.uuid4())
    await admin("PUT", "async-delay", {"ms": 1500})
    try:
        async with client(transport) as rw:
            items = await rw.run(
                {
                    "taskType": "imageInference",
                    "taskUUID": task_uuid,
                    "model": "runware:101@1",
                    "positivePrompt": "misty mountains",
                    "width": 128,
                    "height": 128,
                    "numberResults": 2,
                    "outputFormat": "PNG",
                    "deliveryMethod": "async",
                }
            )
    finally:
        await admin("PUT", "async-delay", {"ms": 0})
    detail = await check_images(items, task_uuid=task_uuid, count=2, fmt="PNG", width=128, height=128)
    log = await admin("GET", "log")
    polls = [r for r in log if task_uuid in r.get("taskUuids", []) and '"getResponse"' in r.get("body", "")]
    expect(len(polls) >= 2, f"the SDK polled {len(polls)} times while the task was processing")
    detail["polls"] = len(polls)
    return detail


async def retry_after_503(transport: str) -> dict[str, Any]:
    """A 503 on the first attempt: the REST SDK retries the same task once, and it runs once."""
    task_uuid = str(uuid.uuid4())
    await admin(
        "POST",
        "faults",
        {"fault": {"kind": "httpStatus", "status": 503}, "taskType": "modelSearch", "firstRequests": 1},
    )
    try:
        async with client(transport) as rw:
            found = await rw.model_search({"taskUUID": task_uuid, "search": "sdxl", "limit": 3})
    finally:
        await admin("DELETE", "faults")
    expect(found and found[0].get("totalResults", 0) >= 1, f"modelSearch after a retry: {found!r}")
    log = await admin("GET", "log")
    statuses = [r.get("status") for r in log if task_uuid in r.get("taskUuids", [])]
    expect(statuses == [503, 200], f"statuses for the task: {statuses}")
    return {"taskUUID": task_uuid, "statuses": statuses}


# --------------------------------------------------------------------- media checks


def mp4_facts(data: bytes) -> dict[str, Any]:
    """Reads an MP4/MOV's brand, duration and first video track size from its boxes (stdlib only)."""
    facts: dict[str, Any] = {}

    def walk(buf: bytes, depth: int) -> None:
        i = 0
        while i + 8 <= len(buf):
            size, kind = struct.unpack(">I4s", buf[i : i + 8])
            header = 8
            if size == 1:
                size = struct.unpack(">Q", buf[i + 8 : i + 16])[0]
                header = 16
            if size < header or i + size > len(buf):
                break
            body = buf[i + header : i + size]
            name = kind.decode("latin-1")
            if name == "ftyp":
                facts["brand"] = body[:4].decode("latin-1")
            elif name == "mvhd":
                version = body[0]
                if version == 1:
                    timescale, duration = struct.unpack(">IQ", body[20:32])
                else:
                    timescale, duration = struct.unpack(">II", body[12:20])
                facts["duration"] = duration / timescale if timescale else 0.0
            elif name == "tkhd" and "width" not in facts:
                width, height = struct.unpack(">II", body[-8:])
                facts["width"], facts["height"] = width >> 16, height >> 16
            elif name in ("moov", "trak") and depth < 4:
                walk(body, depth + 1)
            i += size

    walk(data, 0)
    return facts


async def video_async(transport: str) -> dict[str, Any]:
    """A video to success: async only, polled by the SDK, downloaded and read back."""
    task_uuid = str(uuid.uuid4())
    await admin("PUT", "video-delay", {"ms": 300})
    try:
        async with client(transport) as rw:
            items = await rw.run(
                {
                    "taskType": "videoInference",
                    "taskUUID": task_uuid,
                    "model": "klingai:kling-video@2.6-standard",
                    "positivePrompt": "a paper boat on a stream",
                    "duration": 2,
                    "width": 320,
                    "height": 240,
                    "fps": 8,
                    "outputFormat": "MP4",
                    "includeCost": True,
                    "deliveryMethod": "async",
                }
            )
    finally:
        await admin("PUT", "video-delay", {"ms": 2000})
    expect(len(items) == 1, f"one video: {items!r}")
    item = items[0]
    expect(item.get("taskUUID") == task_uuid, f"the video's taskUUID: {item!r}")
    expect(isinstance(item.get("videoUUID"), str) and item.get("videoURL"), f"video fields: {item!r}")
    expect(isinstance(item.get("cost"), (int, float)), f"cost with includeCost: {item!r}")
    data = await download(item["videoURL"])
    facts = mp4_facts(data)
    expect(facts.get("brand") in ("isom", "mp42", "mp41"), f"an MP4 brand: {facts}")
    expect((facts.get("width"), facts.get("height")) == (320, 240), f"the requested size: {facts}")
    expect(abs(facts.get("duration", 0) - 2.0) < 0.01, f"the requested duration: {facts}")
    return {"taskUUID": task_uuid, "bytes": len(data), **facts}


async def video_progress(transport: str) -> dict[str, Any]:
    """Two videos that take 2.5 s: the SDK's on_progress sees Runware's `progress` rise while it
    polls, on_result fires once per video, and both distinct files download as MP4."""
    from runware import RunOptions

    task_uuid = str(uuid.uuid4())
    progress: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    await admin("PUT", "video-delay", {"ms": 2500})
    try:
        async with client(transport) as rw:
            items = await rw.run(
                {
                    "taskType": "videoInference",
                    "taskUUID": task_uuid,
                    "model": "klingai:kling-video@2.6-standard",
                    "positivePrompt": "a kite over the dunes",
                    "duration": 1,
                    "width": 256,
                    "height": 144,
                    "fps": 8,
                    "numberResults": 2,
                },
                RunOptions(on_progress=progress.append, on_result=results.append),
            )
    finally:
        await admin("PUT", "video-delay", {"ms": 2000})
    expect(len(items) == 2 and len(results) == 2, f"two videos, two on_result calls: {items!r}")
    expect(len({i.get("videoUUID") for i in items}) == 2, f"distinct videoUUIDs: {items!r}")
    for item in items:
        expect(item.get("status") == "success", f"status in {item!r}")
        facts = mp4_facts(await download(item["videoURL"]))
        expect((facts.get("width"), facts.get("height")) == (256, 144), f"size: {facts}")
    values = [p["progress"] for p in progress]
    expect(values, "on_progress never fired: no `progress` while the videos were processing")
    expect(all(0 <= v < 100 for v in values), f"progress outside 0..99 while processing: {values}")
    expect(all(p.get("status") == "processing" for p in progress), f"statuses: {progress!r}")
    expect(values == sorted(values), f"progress went down: {values}")
    return {"taskUUID": task_uuid, "progress": values}


async def video_task_error(transport: str) -> dict[str, Any]:
    """A video whose provider fails (an injected `timeoutProvider`): the SDK raises at once with
    the task's UUID and Runware's message, instead of polling on."""
    task_uuid = str(uuid.uuid4())
    await admin(
        "POST",
        "faults",
        {"fault": {"kind": "taskError", "code": "timeoutProvider"}, "taskType": "videoInference",
         "firstRequests": 1},
    )
    await admin("PUT", "video-delay", {"ms": 300})
    try:
        async with client(transport) as rw:
            try:
                await rw.run(
                    {
                        "taskType": "videoInference",
                        "taskUUID": task_uuid,
                        "model": "klingai:kling-video@2.6-standard",
                        "positivePrompt": "a paper boat on a stream",
                        "duration": 1,
                    }
                )
            except RunwareError as err:
                # The SDK's category for `timeoutProvider` is `unknown` (its table matches
                # "Timeout" with a capital T), so what must survive is the task and the message.
                expect(err.task_uuid == task_uuid, f"task_uuid {err.task_uuid!r}: {err!r}")
                expect(err.task_type == "videoInference", f"task_type: {err!r}")
                expect("provider" in err.message, f"Runware's message: {err!r}")
                return {"taskUUID": task_uuid, "code": str(err.code),
                        "statusCode": err.status_code, "error": redact(repr(err))}
    finally:
        await admin("DELETE", "faults")
        await admin("PUT", "video-delay", {"ms": 2000})
    raise CheckFailed("the failed video was returned as a success")


async def video_never_finishes(transport: str) -> dict[str, Any]:
    """A video that never finishes: the SDK's per-call timeout (3 s) ends the wait with a typed
    `timeout` error, not a hang; the emulator kept answering `processing` meanwhile."""
    from runware import RunOptions

    task_uuid = str(uuid.uuid4())
    await admin("POST", "faults", {"fault": {"kind": "neverFinish"}, "taskType": "videoInference"})
    start = time.monotonic()
    try:
        async with client(transport) as rw:
            try:
                await rw.run(
                    {
                        "taskType": "videoInference",
                        "taskUUID": task_uuid,
                        "model": "klingai:kling-video@2.6-standard",
                        "positivePrompt": "an endless road",
                        "duration": 1,
                    },
                    RunOptions(timeout=3000),
                )
            except RunwareError as err:
                waited = time.monotonic() - start
                expect(str(err.code) == "timeout", f"code: {err!r}")
                expect(waited < 15, f"the SDK gave up after {waited:.1f}s, not about 3 s")
                log = await admin("GET", "log")
                polls = [r for r in log if task_uuid in r.get("taskUuids", [])
                         and '"getResponse"' in r.get("body", "")]
                expect(len(polls) >= 2, f"the SDK polled {len(polls)} times before giving up")
                return {"taskUUID": task_uuid, "seconds": round(waited, 2), "polls": len(polls)}
    finally:
        await admin("DELETE", "faults")
    raise CheckFailed("a video that never finishes was returned as a success")


async def bad_duration(transport: str) -> dict[str, Any]:
    """A video of 0 s: the SDK raises a typed error with the code and the parameter."""
    task_uuid = str(uuid.uuid4())
    async with client(transport) as rw:
        try:
            await rw.run(
                {
                    "taskType": "videoInference",
                    "taskUUID": task_uuid,
                    "model": "klingai:kling-video@2.6-standard",
                    "positivePrompt": "a paper boat on a stream",
                    "duration": 0,
                    "deliveryMethod": "async",
                }
            )
        except RunwareError as err:
            # The SDK folds Runware's code (`invalidDuration`) into its stable category
            # `validation`; the parameter and the task type survive.
            expect(str(err.code) == "validation", f"code: {err!r}")
            expect(err.parameter == "duration", f"parameter: {err!r}")
            expect(err.task_type in (None, "videoInference"), f"task type: {err!r}")
            expect("between 1 and 60" in str(err), f"the range in the message: {err!r}")
            return {"code": str(err.code), "parameter": err.parameter, "message": str(err)}
    raise CheckFailed("a 0 s video was accepted")


async def audio(transport: str) -> dict[str, Any]:
    """An audio of 10 s as WAV, downloaded and read back with the `wave` module."""
    import io
    import wave

    task_uuid = str(uuid.uuid4())
    async with client(transport) as rw:
        items = await rw.run(
            {
                "taskType": "audioInference",
                "taskUUID": task_uuid,
                "model": "minimax:music@2.6",
                "positivePrompt": "a calm piano melody",
                "duration": 10,
                "outputFormat": "WAV",
                "outputType": "URL",
            }
        )
    expect(len(items) == 1 and items[0].get("audioURL"), f"one audio with a URL: {items!r}")
    with wave.open(io.BytesIO(await download(items[0]["audioURL"]))) as w:
        seconds = w.getnframes() / w.getframerate()
    expect(abs(seconds - 10.0) < 0.05, f"duration {seconds}")
    return {"taskUUID": task_uuid, "seconds": seconds}


async def image_tools(transport: str) -> dict[str, Any]:
    """The tools in the current schema (`inputs.image`): upscale, background removal with alpha,
    caption."""
    async with client(transport) as rw:
        made = await rw.run(
            {
                "taskType": "imageInference",
                "model": "runware:101@1",
                "positivePrompt": "a red kite over a beach",
                "width": 256,
                "height": 192,
                "outputFormat": "PNG",
            }
        )
        image_uuid = made[0]["imageUUID"]
        upscaled = await rw.run(
            {"taskType": "upscale", "model": "runware:504@1", "inputs": {"image": image_uuid},
             "upscaleFactor": 2, "outputFormat": "PNG"}
        )
        got = image_size(await download(upscaled[0]["imageURL"]))
        expect(got == ("PNG", 512, 384), f"upscaled image {got}")
        cut = await rw.run(
            {"taskType": "removeBackground", "model": "runware:112@5", "inputs": {"image": image_uuid},
             "outputFormat": "PNG"}
        )
        png = await download(cut[0]["imageURL"])
        expect(image_size(png) == ("PNG", 256, 192), f"cut-out image {image_size(png)}")
        expect(png[25] in (4, 6), f"the cut-out keeps alpha (PNG colour type {png[25]})")
        captioned = await rw.run(
            {"taskType": "caption", "model": "runware:152@2", "inputs": {"image": image_uuid}}
        )
        text = captioned[0].get("text")
        expect(isinstance(text, str) and text, f"caption: {captioned!r}")
        return {"imageUUID": image_uuid, "caption": text}


async def prompt_enhance(transport: str) -> dict[str, Any]:
    """Three versions come back as three items (the SDK tells them apart by `resultIndex`)."""
    async with client(transport) as rw:
        enhanced = await rw.run(
            {"taskType": "promptEnhance", "model": "runware:llama-3-1-8b@prompt-enhancer",
             "prompt": "a lighthouse", "promptMaxLength": 120, "promptVersions": 3}
        )
    texts = [e.get("text", "") for e in enhanced]
    expect(len(texts) == 3 and all("lighthouse" in t for t in texts), f"promptEnhance: {enhanced!r}")
    expect(len(set(texts)) == 3, f"three different versions: {texts!r}")
    return {"texts": texts}


async def account(transport: str) -> dict[str, Any]:
    async with client(transport) as rw:
        details = await rw.account_management({"operation": "getDetails"})
    expect(len(details) == 1, f"one item: {details!r}")
    balance = details[0].get("balance") or {}
    expect(isinstance(balance.get("amount"), (int, float)), f"a balance: {details!r}")
    expect(balance.get("currency") == "USD", f"the currency: {balance!r}")
    return {"balance": balance}


CHECKS: list[tuple[str, Callable[[str], Awaitable[dict[str, Any]]]]] = [
    ("modelSearch", model_search),
    ("imageInference.sync", image_sync),
    ("imageInference.sync.base64", image_sync_base64),
    ("imageInference.async", image_async),
    ("error.invalidWidth", bad_width),
    ("error.invalidApiKey", bad_key),
    ("utilities", utilities),
    ("imageInference.async.processing", async_processing),
    ("videoInference.async", video_async),
    ("videoInference.progress", video_progress),
    ("error.invalidDuration", bad_duration),
    ("audioInference", audio),
    ("tools.image", image_tools),
    ("promptEnhance", prompt_enhance),
    ("accountManagement", account),
]
# HTTP-level faults concern REST only (the WebSocket path has no HTTP status per task).
REST_ONLY_CHECKS: list[tuple[str, Callable[[str], Awaitable[dict[str, Any]]]]] = [
    ("retry.http503", retry_after_503),
    # The emulator's fault rules count REST requests only, so these two run over REST.
    ("error.videoTask", video_task_error),
    ("videoInference.neverFinish", video_never_finishes),
]


async def main() -> int:
    version = importlib.metadata.version("runware-sdk")
    print(json.dumps({"sdk": "runware-sdk", "version": version, "transports": TRANSPORTS}), flush=True)
    failed = passed = 0
    for transport in TRANSPORTS:
        for name, check in CHECKS + (REST_ONLY_CHECKS if transport == "rest" else []):
            start = time.monotonic()
            line: dict[str, Any] = {"check": name, "transport": transport}
            try:
                detail = await asyncio.wait_for(check(transport), CHECK_TIMEOUT_SECONDS)
                line.update(ok=True, detail=detail)
                passed += 1
            except TimeoutError:
                line.update(ok=False, detail=f"timed out after {CHECK_TIMEOUT_SECONDS}s (the SDK hung)")
                failed += 1
            except Exception as exc:  # noqa: BLE001 - every failure is reported, not raised
                text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                if not isinstance(exc, CheckFailed):
                    text += "\n" + "".join(traceback.format_exc(limit=6))
                line.update(ok=False, detail=redact(text))
                failed += 1
            line["seconds"] = round(time.monotonic() - start, 3)
            print(json.dumps(line), flush=True)
    print(json.dumps({"summary": {"passed": passed, "failed": failed}}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
