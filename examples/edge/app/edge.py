"""The edge function of edge.js, in Python: built by componentize-py into a component that imports
runware:client/api (plugged in by build.js) and exports wasi:http/incoming-handler.

  GET /image?prompt=…[&size=…][&format=png|jpg|webp]  the image's bytes, with their content type
  GET /models?search=…[&limit=…]                       the matching models, as JSON
  a failure                                            {"error":{kind, code, parameter, taskUUID, …}}

The key and the base URL come from the runtime's WASI environment (RUNWARE_API_KEY,
RUNWARE_BASE_URL) into client-options, as in edge.js: neither jco serve nor wasmtime serve has a
hook on outgoing requests that could add the Authorization header outside the component.
"""

import base64
import dataclasses
import json
import re
from urllib.parse import parse_qs, urlsplit

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.imports import environment
from wit_world.imports.api import Client
from wit_world.imports.runware_client_types import (
    ClientOptions,
    CommonOptions,
    ErrorKind,
    ImageRequest,
    ModelSearchRequest,
    OutputFormat,
    OutputType,
)
from wit_world.imports.wasi_http_types import (
    Fields,
    Method_Get,
    OutgoingBody,
    OutgoingResponse,
    ResponseOutparam,
)

# An edge function answers quickly: 512² unless asked, not the API's 1024².
DEFAULT_SIZE = 512
FORMATS = {
    "png": (OutputFormat.PNG, "image/png"),
    "jpg": (OutputFormat.JPG, "image/jpeg"),
    "webp": (OutputFormat.WEBP, "image/webp"),
}
# The HTTP status that fits an error kind: the caller's fault is 400, the upstream's 502 (504
# for a deadline).
STATUS = {ErrorKind.INVALID_REQUEST: 400, ErrorKind.TIMEOUT: 504}
# The most one blocking-write-and-flush may take (wasi:io/streams).
WRITE_CHUNK = 4096


class Response:
    """A whole response: built first, so that a failure while building it is still answered."""

    def __init__(self, status, content_type, body, headers=()):
        self.status = status
        self.headers = [("content-type", content_type), *headers]
        self.body = body


def json_response(status, body):
    # Compact and UTF-8, as JSON.stringify writes it.
    return Response(status, "application/json", json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())


def refuse(code, parameter, message):
    """The app's own refusals, in the same shape as the component's errors."""
    return json_response(
        400,
        {"error": {"kind": "invalid-request", "code": code, "message": message, "parameter": parameter, "taskUUID": None}},
    )


def wit_name(case):
    """An enum case's WIT name (`ErrorKind.INVALID_REQUEST` is `invalid-request`)."""
    return case.name.lower().replace("_", "-")


def failure(thrown, status=None):
    """The response for an exception: a component error (an imported result's `err`, raised as
    `Err`) as its JSON, anything else (a bug here) a 500 with its text."""
    error = thrown.value if isinstance(thrown, Err) else None
    if not hasattr(error, "kind"):
        return json_response(500, {"error": {"kind": "internal", "message": f"{type(thrown).__name__}: {thrown}"}})
    detail = error.detail
    return json_response(
        status or STATUS.get(error.kind, 502),
        {
            "error": {
                "kind": wit_name(error.kind),
                "code": detail.code,
                "message": detail.message,
                "parameter": detail.parameter,
                "taskUUID": detail.task_uuid,
                "taskType": detail.task_type,
                "httpStatus": detail.http_status,
                "retryable": detail.retryable,
                "attempts": detail.attempts,
            }
        },
    )


def record(cls, **given):
    """A WIT record with every field not given left `none`, as JS leaves it `undefined`: the
    bindings' dataclasses take every field."""
    return cls(**{field.name: given.get(field.name) for field in dataclasses.fields(cls)})


class Params:
    """The query's parameters: the first value of each, as URLSearchParams.get answers."""

    def __init__(self, query):
        self.values = parse_qs(query, keep_blank_values=True)

    def get(self, name, fallback=None):
        values = self.values.get(name)
        return values[0] if values else fallback

    def integer(self, name, fallback):
        """A non-negative integer, `fallback` when absent or empty, `ValueError` when it is not
        one (ASCII digits only: `int` would take '٣' and ' 3')."""
        text = self.get(name)
        if not text:
            return fallback
        if not re.fullmatch(r"[0-9]{1,9}", text):
            raise ValueError(name)
        return int(text)


def env(name):
    """A variable of the runtime's environment; an empty one counts as unset."""
    return next((value for key, value in environment.get_environment() if key == name), None) or None


class Misconfigured(Exception):
    """Options the component refuses are the deployment's fault, not the caller's: a 500."""


def open_client():
    try:
        return Client.open(record(ClientOptions, api_key=env("RUNWARE_API_KEY"), base_url=env("RUNWARE_BASE_URL")))
    except Err as thrown:
        raise Misconfigured() from thrown


def image(params):
    prompt = params.get("prompt")
    if not prompt:
        return refuse("missingPrompt", "prompt", "GET /image needs ?prompt=")
    try:
        size = params.integer("size", DEFAULT_SIZE)
    except ValueError:
        return refuse("invalidSize", "size", "size must be a whole number of pixels")
    format = FORMATS.get(params.get("format", "png"))
    if format is None:
        return refuse("invalidFormat", "format", "format must be png, jpg or webp")
    output_format, content_type = format
    # The range of `size` is the component's to check: a bad one comes back as its typed error.
    with open_client() as client:
        result = client.text_to_image(
            record(
                ImageRequest,
                positive_prompt=prompt,
                width=size,
                height=size,
                output_type=OutputType.BASE64_DATA,
                output_format=output_format,
                loras=[],
                common=record(CommonOptions),
            )
        )
    data = result.images[0].image_base64_data if result.images else None
    if not data:
        return json_response(502, {"error": {"kind": "server", "code": "missingResult", "taskUUID": result.task_uuid}})
    return Response(200, content_type, base64.b64decode(data, validate=True), [("x-runware-task-uuid", result.task_uuid)])


def models(params):
    try:
        limit = params.integer("limit", None)
    except ValueError:
        return refuse("invalidLimit", "limit", "limit must be a whole number")
    with open_client() as client:
        result = client.model_search(record(ModelSearchRequest, search=params.get("search"), tags=[], limit=limit))
    return json_response(
        200,
        {
            "taskUUID": result.task_uuid,
            "totalResults": result.total_results,
            "models": [
                {
                    "air": m.air,
                    "name": m.name,
                    "version": m.version,
                    "category": m.category,
                    "architecture": m.architecture,
                    "tags": m.tags,
                }
                for m in result.results
            ],
        },
    )


ROUTES = {"/image": image, "/models": models}


def respond(request):
    url = urlsplit(request.path_with_query() or "/")
    route = ROUTES.get(url.path)
    if route is None:
        return json_response(404, {"error": {"kind": "not-found", "message": "GET /image?prompt=… or /models?search=…"}})
    if not isinstance(request.method(), Method_Get):
        return json_response(405, {"error": {"kind": "method-not-allowed", "message": "GET only"}})
    try:
        return route(Params(url.query))
    except Misconfigured as thrown:
        return failure(thrown.__cause__, 500)
    except Exception as thrown:  # noqa: BLE001: every failure is answered, none traps the instance
        return failure(thrown)


class IncomingHandler(exports.IncomingHandler):
    """The export: answers each request with the response `respond` built."""

    def handle(self, request, response_out):
        response = respond(request)
        outgoing = OutgoingResponse(Fields.from_list([(name, value.encode()) for name, value in response.headers]))
        outgoing.set_status_code(response.status)
        body = outgoing.body()
        ResponseOutparam.set(response_out, Ok(outgoing))
        try:
            with body.write() as stream:
                for start in range(0, len(response.body), WRITE_CHUNK):
                    stream.blocking_write_and_flush(response.body[start : start + WRITE_CHUNK])
        except Err:
            # The caller went away: nobody is left to tell.
            return
        OutgoingBody.finish(body, None)
