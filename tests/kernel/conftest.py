"""Kernel SCTP (``sctp://``) tests.

Tests that need the operating system's SCTP are collected only where it exists: inside the
SCTP VM (``SCTP_VM=1``, set by ``scripts/vm/sctp_vm.py``; run them with
``scripts/kernel-tests.sh``) or when ``NETCHAN_KERNEL_SCTP=1`` says this host has it. Elsewhere
(a host kernel without SCTP) they are not collected at all, rather than collected and skipped;
``test_host.py`` checks instead that ``sctp://`` fails at once with a clear error there (and
that it opens where SCTP exists).

In the VM, pytest must run from the repository's virtual environment (``.venv/bin/python``,
called by that path): an interpreter resolved through the venv's symlink is the base one, and a
run that then works only because packages happen to be installed there proves nothing about
the project's setup.
"""

from __future__ import annotations

import os
import sys

import pytest

KERNEL_SCTP = os.environ.get("SCTP_VM") == "1" or os.environ.get("NETCHAN_KERNEL_SCTP") == "1"

# Need kernel SCTP (collected only where it exists).
NEEDS_KERNEL_SCTP = [
    "test_suite.py",
    "test_kernel.py",
    "test_cross_stack.py",
    "test_cross_stack_multihoming.py",
    "test_node.py",
    "test_auth.py",
]
collect_ignore = [] if KERNEL_SCTP else NEEDS_KERNEL_SCTP


@pytest.fixture
def endpoint_scheme() -> str:
    """The conformance suite (tests/endpoint_suite.py) runs against ``sctp://`` here."""
    return "sctp"


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("SCTP_VM") == "1" and sys.prefix == sys.base_prefix:
        raise pytest.UsageError(
            f"the kernel tests in the VM run with {sys.executable}, outside a virtual environment:"
            " call the venv's interpreter by its path (.venv/bin/python, not resolved)"
        )
