"""pytest plugin for testing an installed wheel (scripts/test-wheel.sh): the runtime's tests
(tests/) run against the installed package with numpy and pytest only. A test that imports a
module of the evaluation/training extras (OpenCV to write fixtures, onnxruntime, PIL, Ray,
torch) is reported as skipped ("needs <module>") instead of failed; any other error stays an
error, and a test that imports such a module must not pass through the runtime itself (tests/
test_layers.py checks that the runtime imports none of them).

    python -m pytest -p wheel_test_plugin tests     (with scripts/ on PYTHONPATH)
"""

from __future__ import annotations

import pytest

EXTRAS = {"cv2", "onnxruntime", "PIL", "ray", "pyarrow", "torch", "onnx", "scipy", "dlib"}


def _missing_extra(excinfo) -> str | None:
    if excinfo is None or not excinfo.errisinstance(ModuleNotFoundError):
        return None
    name = (excinfo.value.name or "").split(".")[0]
    return name if name in EXTRAS else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    name = _missing_extra(call.excinfo)
    if name and report.failed:
        report.outcome = "skipped"
        path, line, _ = item.reportinfo()
        reason = f"Skipped: needs {name} (not a runtime dependency)"
        report.longrepr = (str(path), (line or 0) + 1, reason)
