"""Embeds the Runware client component (runware_guest.wasm) in Python through wasmtime-py.

The component exports the interface `runware:client/api@0.1.0` with one resource, `client`.
wasmtime-py reaches a resource's functions by their component-model names inside that
interface: `[static]client.open` and `[method]client.<name>`, a method taking the client as
its first argument. Values cross the boundary as wasmtime-py builds them (records are objects
whose attributes carry the WIT field names, options are `None` or the value, variants are
`Variant(tag, payload)`); this module converts them to and from plain dicts keyed by the WIT
names, so callers write `{"positive-prompt": "...", "width": 512}`.
"""

from __future__ import annotations

from typing import Any, Optional

from wasmtime import Engine, Store, WasiConfig
from wasmtime.component import (
    Component,
    ExportIndex,
    Instance,
    Linker,
    ListType,
    OptionType,
    Record,
    RecordType,
    ResourceAny,
    ResultType,
    ValType,
    Variant,
)

API = "runware:client/api@0.1.0"


class RunwareError(Exception):
    """A call failed: `case` is the WIT `error`'s `kind`, `detail` its error-detail record."""

    def __init__(self, case: str, detail: dict[str, Any]) -> None:
        super().__init__(f"{case}: {detail.get('code')}: {detail.get('message')}")
        self.case = case
        self.detail = detail


def _error(value: Any) -> RunwareError:
    """The WIT `error` record (`kind` and `detail`) as a RunwareError."""
    error = _from_wit(value)
    return RunwareError(error["kind"], error["detail"])


def _to_wit(value: Any, ty: ValType) -> Any:
    """Converts plain Python data (dicts keyed by WIT names) to wasmtime-py's values."""
    if isinstance(ty, RecordType):
        record = Record()
        unknown = set(value) - {name for name, _ in ty.fields}
        if unknown:
            raise ValueError(f"unknown record fields: {sorted(unknown)}")
        for name, field_ty in ty.fields:
            default = [] if isinstance(field_ty, ListType) else {} if isinstance(field_ty, RecordType) else None
            setattr(record, name, _to_wit(value.get(name, default), field_ty))
        return record
    if isinstance(ty, OptionType):
        return None if value is None else _to_wit(value, ty.payload)
    if isinstance(ty, ListType) and not isinstance(value, (bytes, str)):
        return [_to_wit(item, ty.element) for item in value]
    return value


def _from_wit(value: Any) -> Any:
    """Converts wasmtime-py's values back to plain Python data."""
    if isinstance(value, Record):
        return {name: _from_wit(item) for name, item in vars(value).items()}
    if isinstance(value, Variant):
        return Variant(value.tag, _from_wit(value.payload))
    if isinstance(value, list):
        return [_from_wit(item) for item in value]
    return value


class Runware:
    """The compiled component and a linker providing WASI 0.2 and wasi:http. Build it once."""

    def __init__(self, component_path: str) -> None:
        self.engine = Engine()
        self.component = Component.from_file(self.engine, component_path)
        self.linker = Linker(self.engine)
        self.linker.add_wasip2()
        self.linker.add_wasi_http()

    def open(self, options: dict[str, Any]) -> "Client":
        """Instantiates the component in a fresh store and opens a client with `options`
        (the WIT `client-options` record as a dict; missing fields are `none`)."""
        store = Store(self.engine)
        # No environment, arguments or preopened directories: the component sees nothing of
        # this process beyond what `options` hands it. Its stderr (trace lines) is ours.
        wasi = WasiConfig()
        wasi.inherit_stderr()
        store.set_wasi(wasi)
        store.set_wasi_http()
        instance = self.linker.instantiate(store, self.component)
        api = instance.get_export_index(store, API)
        if api is None:
            raise RuntimeError(f"the component does not export {API}")
        return Client(store, instance, api, options)


class Client:
    """An open `client` resource. Each method calls `[method]client.<name>` with it."""

    def __init__(self, store: Store, instance: Instance, api: ExportIndex, options: dict[str, Any]) -> None:
        self._store = store
        self._instance = instance
        self._api = api
        self._handle: Optional[ResourceAny] = self._call("[static]client.open", options)

    def _call(self, name: str, *args: Any) -> Any:
        index = self._instance.get_export_index(self._store, name, self._api)
        func = self._instance.get_func(self._store, index) if index is not None else None
        if func is None:
            raise RuntimeError(f"{API} has no function {name}")
        params = func.type(self._store).params
        if name.startswith("[method]"):
            lowered = [self._handle] + [_to_wit(a, ty) for a, (_, ty) in zip(args, params[1:])]
        else:
            lowered = [_to_wit(a, ty) for a, (_, ty) in zip(args, params)]
        result = func(self._store, *lowered)
        func.post_return(self._store)
        # Every function returns result<T, error>. wasmtime-py tags a result only when its two
        # sides are the same Python class: with a record on both sides it hands back
        # Variant("ok" | "err", value); otherwise the value itself, and then a Record can only be
        # the error (no untagged ok side of this interface is a record).
        if isinstance(result, Variant):
            if result.tag == "err":
                raise _error(result.payload)
            result = result.payload
        elif isinstance(result, Record):
            raise _error(result)
        return result if isinstance(result, ResourceAny) else _from_wit(result)

    def text_to_image(self, request: dict[str, Any]) -> dict[str, Any]:
        """Runs an imageInference task (WIT `image-request` as a dict)."""
        return self._call("[method]client.text-to-image", request)

    def model_search(self, request: dict[str, Any]) -> dict[str, Any]:
        """Runs a modelSearch task (WIT `model-search-request` as a dict)."""
        return self._call("[method]client.model-search", request)

    def account(self) -> dict[str, Any]:
        """The account's balance and currency (`accountManagement` getDetails)."""
        return self._call("[method]client.account")

    def run_tasks(self, tasks_json: str) -> dict[str, Any]:
        """The raw path: a JSON array of tasks."""
        return self._call("[method]client.run-tasks", tasks_json)

    def close(self) -> None:
        """Drops the resource (runs the component's destructor)."""
        if self._handle is not None:
            self._handle.drop(self._store)
            self._handle = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
