"""Project-wide test policy.

Interop tests against usrsctp skip themselves where its example programs (or a C compiler for
a shim) are missing, so that a developer machine without them can still run the rest. Where
the peers are promised (``scripts/test.sh`` sets ``NETCHAN_REQUIRE_INTEROP=1`` after
installing them, as CI does), such a skip would hide a failure: it is turned into one.

``NETCHAN_EXPECT_COMPILED=1`` (the compiled run of ``scripts/test.sh``) asserts that the
mypyc-compiled SCTP core is the one imported, so that a build which silently fell back to
Python cannot pass as a test of the compiled core.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("NETCHAN_EXPECT_COMPILED") == "1":
        import netchan.transport.sctp as sctp

        if not sctp.COMPILED:
            raise pytest.UsageError(
                f"NETCHAN_EXPECT_COMPILED=1 but {sctp.__file__} runs as pure Python"
            )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report = outcome.get_result()
    if (
        report.skipped
        and os.environ.get("NETCHAN_REQUIRE_INTEROP") == "1"
        and item.get_closest_marker("usrsctp") is not None
    ):
        report.outcome = "failed"
        report.longrepr = f"interop peer required but the test skipped: {report.longrepr}"
