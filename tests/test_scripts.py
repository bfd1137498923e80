"""The scripts that set up and run the project on a fresh machine (scripts/), checked on the host.

The VM itself is exercised by ``scripts/kernel-tests.sh``; these tests cover what would break
that run in ways that are cheap to see here: the interpreter handed to the VM, the script the
guest runs, the kernel modules' load order, and paths of one machine leaking into the repo.
"""

from __future__ import annotations

import importlib.util
import lzma
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent


def load_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sctp_vm", REPO / "scripts/vm/sctp_vm.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sctp_vm = load_runner()


@pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="needs to run from a venv")
def test_kernel_tests_hand_the_vm_an_interpreter_that_sees_the_venv(tmp_path: Path) -> None:
    # A copy of kernel-tests.sh in a scratch checkout whose .venv is this venv, with a no-op
    # setup and a stand-in VM runner that asks the interpreter it was given where it lives.
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts/kernel-tests.sh", tmp_path / "scripts")
    (tmp_path / "scripts/setup.sh").write_text("true\n")
    (tmp_path / ".venv").symlink_to(sys.prefix)
    runner = tmp_path / "runner.py"
    runner.write_text(
        "import subprocess, sys\n"
        "command = sys.argv[sys.argv.index('--') + 1 :]\n"
        "python = next(a for a in command[1:] if '=' not in a)  # after env's assignments\n"
        "probe = 'import sys, pytest_trio; print(sys.prefix != sys.base_prefix)'\n"
        "sys.exit(subprocess.run([python, '-c', probe]).returncode)\n"
    )
    env = dict(os.environ, KERNEL_TESTS_IN_VM="1", KERNEL_TESTS_VM_RUNNER=str(runner))
    result = subprocess.run(
        ["bash", str(tmp_path / "scripts/kernel-tests.sh")], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "True"


def test_the_guest_runs_the_command_with_the_callers_environment(tmp_path: Path) -> None:
    environ = {"NETCHAN_X": "a 'quoted' $value\nline 2", "PATH": os.environ["PATH"], "PWD": "/"}
    script = sctp_vm.guest_script(
        ["sh", "-c", 'printf "%s|%s|%s|" "$NETCHAN_X" "$SCTP_VM" "$PWD"; exit 3'],
        str(tmp_path),
        environ,
    )
    result = subprocess.run(["sh", "-c", script], env={}, capture_output=True, text=True)
    assert result.returncode == 3
    assert result.stdout == f"a 'quoted' $value\nline 2|1|{tmp_path}|"


def test_modules_load_after_their_dependencies(tmp_path: Path) -> None:
    # Fake modules: only the .modinfo entry matters, "depends=" between NULs.
    (tmp_path / "net").mkdir()
    (tmp_path / "net/sctp.ko").write_bytes(b"\x7fELF\0license=GPL\0depends=udp_tunnel,libcrc32c\0")
    (tmp_path / "net/udp_tunnel.ko").write_bytes(b"\0depends=\0")
    (tmp_path / "libcrc32c.ko.xz").write_bytes(lzma.compress(b"\0depends=crc32c-generic\0"))
    (tmp_path / "crc32c_generic.ko").write_bytes(b"\0name=crc32c_generic\0")
    order = [p.name for p in sctp_vm.load_order(tmp_path, ["udp_tunnel", "sctp"])]
    assert order == ["udp_tunnel.ko", "crc32c_generic.ko", "libcrc32c.ko.xz", "sctp.ko"]
    with pytest.raises(sctp_vm.VMError, match="missing_module"):
        sctp_vm.load_order(tmp_path, ["missing_module"])


def test_the_elf_kernel_is_found_inside_the_bzimage() -> None:
    elf = b"\x7fELF" + bytes(range(256)) * 64
    bzimage = b"MZ setup code" + lzma.compress(elf) + b"trailing bytes"
    assert sctp_vm.extract_vmlinux(bzimage) == elf
    assert sctp_vm.extract_vmlinux(b"MZ no xz payload") is None


@pytest.mark.skipif(not (REPO / ".git").exists(), reason="not a git checkout")
def test_no_tracked_file_names_a_path_of_one_machine() -> None:
    # Written in two pieces so that this file does not match itself.
    patterns = ["/wo" + "rk/", "/ro" + "ot/", "/.py" + "env", "/ho" + "me/"]
    args = [a for p in patterns for a in ("-e", p)]
    result = subprocess.run(
        ["git", "grep", "-n", "-F", *args], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 1, f"machine paths in tracked files:\n{result.stdout}"


def test_a_cache_built_for_other_modules_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cache from an older runner (no veth, no nf_tables) would boot a guest without them.
    monkeypatch.setenv("NETCHAN_VM_CACHE", str(tmp_path))
    monkeypatch.setattr(sctp_vm, "ensure_qemu", lambda apt: None)
    monkeypatch.setattr(sctp_vm.Apt, "kernel_package", lambda self: "linux-image-test")
    builds: list[str] = []

    def fake_build(apt: object, package: str, tmp: Path, dest: Path) -> None:
        builds.append(package)
        (dest / "modules").mkdir(parents=True, exist_ok=True)
        (dest / "modules" / "wanted").write_text(sctp_vm._wanted_text())

    monkeypatch.setattr(sctp_vm, "build", fake_build)
    old = tmp_path / "linux-image-test"
    (old / "modules").mkdir(parents=True)
    (old / "modules" / "order").write_text("sctp.ko\n")  # the old layout: no module list
    (tmp_path / "current").write_text("linux-image-test\n")
    assert sctp_vm.prepare(rebuild=False) == old
    assert builds == ["linux-image-test"]
    assert sctp_vm.prepare(rebuild=False) == old  # now current: reused as it is
    assert builds == ["linux-image-test"]
    assert "veth" in sctp_vm.MODULES and "nf_tables" in sctp_vm.MODULES
