"""netchan: Go-style channels between trio programs across hosts, carried on SCTP streams.

A node exports named channels; peers import them. Each channel rides its own SCTP stream, so
one slow or lossy channel never holds up another. See ``open_node``.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
