"""The endpoint conformance suite against the kernel's SCTP (``sctp://``), inside the VM."""

from __future__ import annotations

from tests.endpoint_suite import *  # noqa: F403
