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

# The modules mypyc compiles: the association and its data path, the endpoint's demultiplexing.
# Left interpreted: the package __init__ files (they only re-export), ``options``, ``events``
# and ``state`` (public dataclasses and enums, built once per association or event, where
# compiling gains nothing), ``congestion/`` (a documented extension point: an interpreted class
# cannot subclass a compiled one, and its calls are a few per packet), ``packet/`` (chunk
# dataclasses with class-level constants, which mypyc would turn into fields) and any module
# not listed here.
COMPILED_MODULES = [
    "association",
    "cookie",
    "counters",
    "endpoint",
    "handshake",
    "heartbeat",
    "rx/data_tracker",
    "rx/reassembly",
    "timers",
    "tsn",
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
    return list(mypycify(paths, opt_level="3", group_name="netchan.transport.sctp._core"))


setup(ext_modules=ext_modules())
