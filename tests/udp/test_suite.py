"""The endpoint conformance suite against netchan's userspace SCTP over UDP (``udp://``)."""

from __future__ import annotations

from tests.endpoint_suite import *  # noqa: F403
