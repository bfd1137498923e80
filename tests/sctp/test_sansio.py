"""The sans-io stack never imports I/O, clocks, threads or event loops."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import netchan.transport.sctp as sctp_pkg

FORBIDDEN = {"trio", "socket", "time", "select", "asyncio", "threading", "cffi", "selectors"}
PACKAGE_DIR = pathlib.Path(sctp_pkg.__file__).parent


def _top_level_imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_forbidden_import_in_source() -> None:
    files = sorted(PACKAGE_DIR.rglob("*.py"))
    assert len(files) >= 8, files  # the whole package is scanned, not an empty glob
    offenders = {
        str(path.relative_to(PACKAGE_DIR)): sorted(_top_level_imports(path) & FORBIDDEN)
        for path in files
        if _top_level_imports(path) & FORBIDDEN
    }
    assert offenders == {}


def test_importing_every_module_loads_no_io_module() -> None:
    modules = sorted(
        "netchan.transport.sctp."
        + ".".join(path.relative_to(PACKAGE_DIR).with_suffix("").parts).removesuffix(".__init__")
        for path in PACKAGE_DIR.rglob("*.py")
    )
    root = PACKAGE_DIR.parents[2]
    # The parent packages (netchan, netchan.transport) import trio for the endpoint layer;
    # stand-ins with the right __path__ let the sctp package load alone, so only what the
    # sctp modules themselves pull in is measured against the interpreter's baseline.
    # crc32c (the checksum's allowed third-party dependency) loads importlib.metadata, which
    # drags in socket and threading on its own; it is imported before the baseline.
    code = (
        "import importlib, sys, types\n"
        "import crc32c\n"
        "baseline = set(sys.modules)\n"
        f"for name, path in [('netchan', {str(root / 'netchan')!r}),"
        f" ('netchan.transport', {str(root / 'netchan' / 'transport')!r})]:\n"
        "    module = types.ModuleType(name)\n"
        "    module.__path__ = [path]\n"
        "    sys.modules[name] = module\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name.removesuffix('.'))\n"
        f"print(sorted((set(sys.modules) - baseline) & set({sorted(FORBIDDEN)!r})))\n"
    )
    # -I keeps user site hooks out of the picture.
    result = subprocess.run(
        [sys.executable, "-I", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(PACKAGE_DIR.parents[2]),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
