"""Build script. Pure Python by default; ``NETCHAN_COMPILE=1`` compiles the sans-io SCTP core.

The compiled core is the same source, compiled with mypyc (docs/performance.md, "Compiled
core"): the hot path of ``netchan.transport.sctp`` becomes C extension modules, everything
else (and every module when no compiler is available) stays Python. ``netchan.transport.sctp
.COMPILED`` tells at runtime which one was imported.

    pip install .                                       # pure Python, no compiler needed
    NETCHAN_COMPILE=1 pip install .                     # compiled core (needs a C compiler)
    NETCHAN_COMPILE=1 python setup.py build_ext --inplace   # compiled core in a checkout
"""

from __future__ import annotations

import os

from setuptools import setup

# The modules mypyc compiles: the association and its data path, the endpoint's demultiplexing,
# the packet parser and serializer (``packet/sctp_packet``). Left interpreted:
# - the package __init__ files (they only re-export);
# - ``events``, ``options``, ``state``: public frozen dataclasses and enums. Compiled, a frozen
#   dataclass can no longer be copied or pickled (FrozenInstanceError from __setstate__) nor
#   subclassed by interpreted code: a behaviour change, for about 5% at 64 B;
# - ``congestion/``: a documented extension point (an interpreted class cannot subclass a
#   compiled one), called a few times per packet;
# - the chunk classes of ``packet/``: dataclasses with class-level constants (``TYPE = 0``),
#   which mypyc turns into fields, and a base class every chunk module would have to share;
# - any module not listed here.
COMPILED_MODULES = [
    "association",
    "auth",
    "bundling",
    "connect",
    "cookie",
    "counters",
    "datapath",
    "endpoint",
    "handshake",
    "heartbeat",
    "liveness",
    "packet/sctp_packet",
    "paths",
    "rx/data_tracker",
    "rx/reassembly",
    "shutdown",
    "timers",
    "tsn",
    "tx/flight_cap",
    "tx/retransmission_queue",
    "tx/rto",
    "tx/send_queue",
    "txpath",
]


def ext_modules() -> list[object]:
    """mypyc's extension modules when ``NETCHAN_COMPILE=1``, else none (a pure install)."""
    if os.environ.get("NETCHAN_COMPILE", "0") in ("", "0"):
        return []
    from mypyc.build import mypycify

    paths = [f"netchan/transport/sctp/{name}.py" for name in COMPILED_MODULES]
    # mypyc type-checks what the compiled modules import. pip's build environment lacks the
    # runtime dependencies (trio, msgpack), so the modules that use them would fail the check;
    # errors outside the compiled modules are silenced (`mypy` checks everything in CI).
    flags = ["--follow-imports=silent"]
    return list(
        mypycify([*flags, *paths], opt_level="3", group_name="netchan.transport.sctp._core")
    )


setup(ext_modules=ext_modules())
