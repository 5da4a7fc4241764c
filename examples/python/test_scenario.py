"""Runs the shared scenario (examples/scenario.json) through the component in wasmtime-py.

Environment: RUNWARE_COMPONENT (path to runware_guest.wasm), RUNWARE_BASE_URL (an emulator's
`http://127.0.0.1:PORT/v1`), RUNWARE_API_KEY (the key that emulator accepts).
Run: `python -m unittest -v test_scenario` from this folder.
"""

from __future__ import annotations

import json
import os
import unittest
from pathlib import Path
from typing import Any

from runware_component import Runware, RunwareError

SCENARIO = json.loads((Path(__file__).resolve().parent.parent / "scenario.json").read_text())


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} must be set (see the module docstring)")
    return value


class Scenario(unittest.TestCase):
    """One test per scenario step, all on one client."""

    @classmethod
    def setUpClass(cls) -> None:
        runware = Runware(_env("RUNWARE_COMPONENT"))
        # The key stays in this process's environment: the component gets it only through
        # client-options, and sees no environment variables of its own.
        options = dict(SCENARIO["client"], **{"api-key": _env("RUNWARE_API_KEY"), "base-url": _env("RUNWARE_BASE_URL")})
        cls.client = runware.open(options)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.client.close()

    def run_step(self, step: dict[str, Any]) -> None:
        method = {
            "model-search": self.client.model_search,
            "text-to-image": self.client.text_to_image,
            "account": self.client.account,
        }[step["call"]]
        args = [step["request"]] if "request" in step else []
        expect = step["expect"]
        if "err" in expect:
            with self.assertRaises(RunwareError, msg=step["name"]) as raised:
                method(*args)
            want = expect["err"]
            self.assertEqual(raised.exception.case, want["case"])
            for field in ("code", "parameter", "attempts", "retryable"):
                if field in want:
                    self.assertEqual(raised.exception.detail[field], want[field], field)
            return
        try:
            result = method(*args)
        except RunwareError as error:
            self.fail(f"{step['name']}: {error.case} {error.detail}")
        want = expect["ok"]
        if step["call"] == "account":
            self.assertEqual(result["currency"], want["currency"])
            self.assertGreaterEqual(result["balance"], want["min-balance"])
            self.assertIsInstance(json.loads(result["json"]), dict)
        elif step["call"] == "model-search":
            self.assertGreaterEqual(result["total-results"], want["min-total-results"])
            self.assertEqual(len(result["results"]), want["results"])
            for model in result["results"]:
                for field in want["every-result-has"]:
                    self.assertTrue(model[field], f"model without {field}: {model}")
                self.assertIsInstance(json.loads(model["json"]), dict)
        else:
            self.assertEqual(len(result["images"]), want["images"])
            for image in result["images"]:
                self.assertEqual(image["task-uuid"], result["task-uuid"])
                for field in want["every-image-has"]:
                    self.assertTrue(image[field], f"image without {field}: {image}")
            self.assertEqual(len({image["image-uuid"] for image in result["images"]}), want["images"])
            self.assertIn("data", json.loads(result["response-json"]))


def _add_step_tests() -> None:
    for number, step in enumerate(SCENARIO["steps"], start=1):
        name = f"test_{number}_" + step["name"].replace(" ", "_").replace("-", "_")
        setattr(Scenario, name, lambda self, step=step: self.run_step(step))


_add_step_tests()

if __name__ == "__main__":
    unittest.main()
