#!/usr/bin/env python3
"""Run one command inside a throw-away QEMU VM whose Linux kernel has SCTP.

For hosts whose own kernel lacks SCTP (containers, many CI machines): scripts/kernel-tests.sh
runs the kernel-SCTP tests through this. The VM boots Debian's stock kernel (it ships sctp.ko)
with a busybox init, scripts/vm/init. Inside it:

* the host's root filesystem is the guest's, read-only over 9p with a tmpfs overlay on top
  (writes succeed and vanish at power-off), so the command runs from the host's own binaries;
* the repository directory is shared read-write at the same path, so its .venv/bin/python
  works and pytest can write its cache;
* the only network interface is loopback.

The command runs as root with the caller's working directory and environment, plus SCTP_VM=1
(tests/kernel/conftest.py collects the kernel tests on it). Its stdout and stderr are streamed
back over two virtio-serial ports and its exit status becomes ours; 124 means --timeout
expired, 125 that the VM failed (the guest console is then shown).

    python3 scripts/vm/sctp_vm.py [--timeout SECONDS] -- COMMAND [ARGS...]
    python3 scripts/vm/sctp_vm.py --setup      # only prepare the cache

The first run (as root) prepares a cache that later runs reuse: it installs QEMU with apt-get
and downloads the kernel package that the linux-image-amd64 metapackage depends on, plus
busybox-static, with `apt-get download`. They are unpacked with dpkg-deb and never installed;
only the kernel image and the few modules the guest loads are kept (--rebuild starts over).
The cache lives in $NETCHAN_VM_CACHE, else $XDG_CACHE_HOME/netchan-vm, else
/var/cache/netchan-vm (root) or ~/.cache/netchan-vm.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import lzma
import os
import re
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
INIT = HERE / "init"

# The modules the guest loads, each after its dependencies: the virtio PCI transport, the
# console driver behind the output ports, 9p for the host's files, overlayfs for throw-away
# writes, and SCTP. libcrc32c (SCTP's checksum) finds its "crc32c" implementation only
# through a soft dependency, which insmod does not follow, hence crc32c_generic. veth and
# nf_tables (with nft_numgen for random loss) let tests build test hosts inside the guest:
# network namespaces joined by veth links, cut or made lossy with nftables.
MODULES = [
    "crc32c_generic",
    "virtio_pci",
    "virtio_console",
    "9pnet_virtio",
    "9p",
    "overlay",
    "sctp",
    "veth",
    "nf_tables",
    "nft_numgen",
]

# Kernel metapackages that name the current kernel package: Debian's, then Ubuntu's (untested).
METAPACKAGES = ["linux-image-amd64", "linux-image-generic"]

BOOT_TIMEOUT = 120  # seconds until the guest must have started the command (TCG boots in ~3 s)
BOOT_ATTEMPTS = 2  # a boot under TCG very rarely hangs (timer calibration); one retry

# console=ttyS0: boot messages go to a log shown only on failure. panic=-1 with QEMU's
# -no-reboot: a guest panic ends QEMU at once. acpi=noirq: keeps ACPI (power-off, timers) but
# skips routing PCI interrupts through ACPI, which is slow under emulation.
KERNEL_ARGS = "console=ttyS0 quiet panic=-1 rdinit=/init acpi=noirq"


def log(message: str) -> None:
    print(f"sctp_vm: {message}", file=sys.stderr, flush=True)


class VMError(Exception):
    """The VM could not be prepared or booted (exit status 125)."""


# ----------------------------------------------------------------------------- the cache


def cache_root() -> Path:
    if path := os.environ.get("NETCHAN_VM_CACHE"):
        return Path(path)
    if xdg := os.environ.get("XDG_CACHE_HOME"):
        return Path(xdg) / "netchan-vm"
    if os.geteuid() == 0:
        return Path("/var/cache/netchan-vm")
    return Path.home() / ".cache" / "netchan-vm"


class Apt:
    """apt-get as the setup needs it: root only, `apt-get update` at most once."""

    def __init__(self) -> None:
        self.updated = False

    def run(self, *args: str, cwd: Path | None = None) -> None:
        if os.geteuid() != 0:
            raise VMError(f"needs root to run apt-get {args[0]} (first-time setup)")
        if not self.updated:
            self.updated = True
            self.run("update", "-qq")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        # Only errors are shown: dpkg's progress lines would drown the tests' output.
        subprocess.run(
            ["apt-get", "-qq", *args], cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL
        )

    def kernel_package(self) -> str:
        """The kernel package the metapackage depends on, e.g. linux-image-6.1.0-27-amd64."""
        for attempt in range(2):
            for meta in METAPACKAGES:
                out = subprocess.run(
                    ["apt-cache", "depends", meta], capture_output=True, text=True
                ).stdout
                if m := re.search(r"Depends: (linux-image-\d\S*)", out):
                    return m.group(1)
            if attempt == 0:
                self.run("update", "-qq")  # empty package lists (a fresh container)
        raise VMError(f"apt knows none of {', '.join(METAPACKAGES)}")


def ensure_qemu(apt: Apt) -> None:
    if shutil.which("qemu-system-x86_64") is None:
        log("installing QEMU (apt-get install qemu-system-x86)")
        apt.run("install", "-y", "--no-install-recommends", "qemu-system-x86")


def prepare(rebuild: bool) -> Path:
    """The cache directory of the kernel to boot: kernel, busybox, modules/ (built if needed)."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    apt = Apt()
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent first runs build it once
        ensure_qemu(apt)
        current = root / "current"  # the kernel package chosen by the first run
        if not rebuild and current.exists():
            cached = root / current.read_text().strip()
            # A cache built for another module list (an older version of this script) is
            # rebuilt: the guest would miss the modules added since.
            wanted = cached / "modules" / "wanted"
            if wanted.is_file() and wanted.read_text() == _wanted_text():
                return cached
            if cached.is_dir():
                log("the cached VM kernel lacks modules this version loads; rebuilding it")
        package = apt.kernel_package()
        log(f"preparing the VM's kernel ({package}, one time) in {root}")
        with tempfile.TemporaryDirectory(dir=root, prefix=".build-") as tmp:
            build(apt, package, Path(tmp), root / package)
        current.write_text(package + "\n")
        return root / package


def build(apt: Apt, package: str, tmp: Path, dest: Path) -> None:
    debs = [package, "busybox-static"]
    if package.endswith("-generic"):  # Ubuntu splits the modules off (untested)
        version = package.removeprefix("linux-image-")
        debs += [f"linux-modules-{version}", f"linux-modules-extra-{version}"]
    # apt's download sandbox user cannot write into a root-only temporary directory.
    apt.run("download", "-o", "APT::Sandbox::User=root", *debs, cwd=tmp)
    tree = tmp / "tree"
    for deb in tmp.glob("*.deb"):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], check=True)
    (vmlinuz,) = tree.glob("boot/vmlinuz-*")
    (moddir,) = [*tree.glob("lib/modules/*/kernel"), *tree.glob("usr/lib/modules/*/kernel")]

    new = tmp / "out"
    (new / "modules").mkdir(parents=True)
    # QEMU boots an ELF vmlinux through its PVH entry point, which skips the bzImage's
    # real-mode setup and decompression: about 3 s less per boot under TCG.
    image = vmlinuz.read_bytes()
    vmlinux = extract_vmlinux(image)
    (new / "kernel").write_bytes(vmlinux or image)
    shutil.copy(tree / "bin/busybox", new / "busybox")
    order = []
    for path in load_order(moddir, MODULES):
        name = re.sub(r"\.ko\..*$", ".ko", path.name)
        (new / "modules" / name).write_bytes(read_module(path))
        order.append(name)
    (new / "modules" / "order").write_text("\n".join(order) + "\n")
    (new / "modules" / "wanted").write_text(_wanted_text())
    shutil.rmtree(dest, ignore_errors=True)
    new.rename(dest)


def _wanted_text() -> str:
    """The module list a cache was built for, as stored beside its modules."""
    return "\n".join(MODULES) + "\n"


def extract_vmlinux(bzimage: bytes) -> bytes | None:
    """The ELF kernel inside an xz-compressed bzImage (Debian's), or None."""
    start = bzimage.find(b"\xfd7zXZ\x00")
    if start < 0:
        return None
    try:
        elf = lzma.LZMADecompressor().decompress(bzimage[start:])
    except lzma.LZMAError:
        return None
    return elf if elf.startswith(b"\x7fELF") else None


def read_module(path: Path) -> bytes:
    """A module's bytes, decompressed (busybox insmod loads plain .ko files only)."""
    if path.name.endswith(".ko.xz"):
        return lzma.decompress(path.read_bytes())
    if path.name.endswith(".ko.zst"):
        return subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True).stdout
    return path.read_bytes()


def load_order(moddir: Path, wanted: list[str]) -> list[Path]:
    """The files of `wanted` and their dependencies, each after what it depends on.

    Dependencies come from each module's own `depends=` field (what depmod reads to write
    modules.dep), so no depmod is needed. Module names treat '-' and '_' alike.
    """
    files = {}
    for path in moddir.rglob("*.ko*"):
        files[path.name.split(".ko")[0].replace("-", "_")] = path
    order: list[Path] = []

    def visit(name: str) -> None:
        path = files.get(name.replace("-", "_"))
        if path is None:
            raise VMError(f"kernel module {name} not found in the kernel package")
        if path in order:
            return
        for dep in module_depends(read_module(path)):
            visit(dep)
        order.append(path)

    for name in wanted:
        visit(name)
    return order


def module_depends(module: bytes) -> list[str]:
    """The `depends=a,b` entry of a module's .modinfo section (NUL-separated key=value)."""
    m = re.search(rb"\0depends=([\w,-]*)\0", module)
    return [d for d in m.group(1).decode().split(",") if d] if m else []


def initrd(kernel_dir: Path) -> Path:
    """The initramfs (busybox, modules, init), rebuilt when any of them changes.

    It stays uncompressed: unpacking a few MB is faster than gunzip under emulation.
    """
    files = {
        "init": (INIT.read_bytes(), 0o755),
        "bin/busybox": ((kernel_dir / "busybox").read_bytes(), 0o755),
    }
    for path in sorted((kernel_dir / "modules").iterdir()):
        files[f"lib/modules/{path.name}"] = (path.read_bytes(), 0o644)
    digest = hashlib.sha256()
    for name, (data, _) in files.items():
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    out = kernel_dir / f"initrd-{digest.hexdigest()[:16]}.cpio"
    if not out.exists():
        for old in kernel_dir.glob("initrd-*.cpio"):
            old.unlink()
        tmp = out.with_suffix(".tmp")
        tmp.write_bytes(cpio(files))
        tmp.rename(out)
    return out


def cpio(files: dict[str, tuple[bytes, int]]) -> bytes:
    """A cpio archive in the "newc" format the kernel unpacks: directories, /dev/console, files."""
    out = bytearray()

    def entry(name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> None:
        ino = len(out) + 1  # unique per entry
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, *rdev, len(name) + 1, 0]
        out.extend(b"070701" + b"".join(b"%08X" % f for f in fields) + name.encode() + b"\0")
        out.extend(b"\0" * (-len(out) % 4))
        out.extend(data)
        out.extend(b"\0" * (-len(out) % 4))

    dirs = {"dev", "proc", "sys", "tmp", "newroot"}
    for name in files:
        parts = name.split("/")[:-1]
        dirs.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    for name in sorted(dirs):
        entry(name, 0o040755)
    entry("dev/console", 0o020600, rdev=(5, 1))  # init's stdio before devtmpfs is mounted
    for name, (data, perm) in files.items():
        entry(name, 0o100000 | perm, data)
    entry("TRAILER!!!", 0)
    return bytes(out)


# ----------------------------------------------------------------------------- running


def guest_script(command: list[str], cwd: str, environ: dict[str, str]) -> str:
    """The shell script the guest runs: the caller's environment and directory, the command."""
    lines = ["# written by scripts/vm/sctp_vm.py"]
    for name, value in sorted(environ.items()):
        # The shell's own bookkeeping is not the caller's environment.
        if re.fullmatch(r"[A-Za-z_]\w*", name) and name not in {"PWD", "OLDPWD", "SHLVL", "_"}:
            lines.append(f"export {name}={shlex.quote(value)}")
    lines.append("export SCTP_VM=1")
    lines.append(f"cd {shlex.quote(cwd)} || exit 125")
    lines.append("exec " + shlex.join(command))
    return "\n".join(lines) + "\n"


def accelerator() -> list[str]:
    """KVM where it works, else TCG (emulation).

    /dev/kvm alone is not enough: a nested guest can offer it without the CPU's vmx/svm, and a
    stock kernel then boots far slower than under TCG.
    """
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        flags = []
    if "vmx" in flags or "svm" in flags:
        return ["-accel", "kvm", "-cpu", "host"]
    return ["-accel", "tcg", "-cpu", "max"]


def fsdev(tag: str, path: Path, *options: str) -> list[str]:
    path_arg = str(path).replace(",", ",,")  # QEMU's option syntax escapes commas by doubling
    return [
        "-fsdev",
        ",".join([f"local,id={tag},path={path_arg},security_model=none", *options]),
        "-device",
        f"virtio-9p-pci,fsdev={tag},mount_tag={tag}",
    ]


def boot(kernel_dir: Path, command: list[str], timeout: float | None) -> int:
    """Boot the VM (retrying a hung boot), run the command, return its exit status."""
    with tempfile.TemporaryDirectory(prefix="netchan-vm-") as tmp:
        ctl = Path(tmp, "ctl")  # shared with the guest: its script in, status out
        ctl.mkdir()
        (ctl / "run.sh").write_text(guest_script(command, os.getcwd(), dict(os.environ)))
        (ctl / "repo").write_text(str(REPO) + "\n")
        console = Path(tmp, "console.log")
        for attempt in range(1, BOOT_ATTEMPTS + 1):
            outcome = run_qemu(kernel_dir, ctl, console, timeout)
            if (ctl / "status").exists():
                return int((ctl / "status").read_text())
            if outcome == "timeout":
                log(f"timed out after {timeout:g} s")
                return 124
            if outcome == "boot" and attempt < BOOT_ATTEMPTS:
                log(f"the guest did not start within {BOOT_TIMEOUT} s; booting again")
                continue
            if (ctl / "started").exists():
                what = "the VM stopped before the command's exit status was written"
            elif outcome == "boot":
                what = f"the VM did not start the command within {BOOT_TIMEOUT} s"
            else:
                what = "the VM stopped before it could start the command"
            sys.stderr.write("sctp_vm: the end of the VM's console and QEMU's messages:\n")
            sys.stderr.write(console_tail(console))
            raise VMError(what)
    raise AssertionError("unreachable")


def console_tail(console: Path, lines: int = 40) -> str:
    text = console.read_text(errors="replace") if console.exists() else "(no console output)\n"
    return "".join(f"  | {line}\n" for line in text.splitlines()[-lines:])


def run_qemu(kernel_dir: Path, ctl: Path, console: Path, timeout: float | None) -> str:
    """One boot. Copies the guest's output ports to our stdout/stderr until QEMU exits.

    Returns how it ended: "exited", "boot" (no start within BOOT_TIMEOUT) or "timeout".
    """
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    argv = [
        "qemu-system-x86_64",
        *["-nodefaults", "-no-user-config", "-display", "none", "-no-reboot", "-nic", "none"],
        *["-machine", "pc", *accelerator(), "-m", "1024", "-smp", "1"],
        *["-kernel", str(kernel_dir / "kernel"), "-initrd", str(initrd(kernel_dir))],
        *["-append", KERNEL_ARGS, "-serial", f"file:{console}"],
        # The command's output: QEMU writes each port to our pipe, reopened through /proc.
        *["-device", "virtio-serial-pci"],
        *["-chardev", f"file,id=out,path=/proc/self/fd/{out_w}"],
        *["-device", "virtserialport,chardev=out,name=out"],
        *["-chardev", f"file,id=err,path=/proc/self/fd/{err_w}"],
        *["-device", "virtserialport,chardev=err,name=err"],
        # multidevs=remap: the host's / spans several filesystems; keep their inodes distinct.
        *fsdev("host", Path("/"), "readonly=on", "multidevs=remap"),
        *fsdev("repo", REPO, "multidevs=remap"),
        *fsdev("ctl", ctl),
    ]
    with open(console.with_suffix(".qemu"), "w") as qemu_log:
        qemu = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=qemu_log,
            stderr=qemu_log,
            pass_fds=(out_w, err_w),
        )
    os.close(out_w)
    os.close(err_w)
    sinks = {out_r: sys.stdout.buffer, err_r: sys.stderr.buffer}
    selector = selectors.DefaultSelector()
    for fd in sinks:
        selector.register(fd, selectors.EVENT_READ)
    start = time.monotonic()
    outcome = "exited"
    try:
        # Until QEMU has closed both pipes (it exited): copy, and watch the clocks.
        while selector.get_map():
            for key, _ in selector.select(timeout=0.5):
                data = os.read(key.fd, 1 << 16)
                if not data:
                    selector.unregister(key.fd)
                    continue
                # A reader that went away (`| head`): keep draining so the guest never blocks.
                with contextlib.suppress(BrokenPipeError):
                    sinks[key.fd].write(data)
                    sinks[key.fd].flush()
            elapsed = time.monotonic() - start
            if outcome == "exited" and qemu.poll() is None:
                if elapsed > BOOT_TIMEOUT and not (ctl / "started").exists():
                    outcome = "boot"
                    qemu.kill()
                elif timeout is not None and elapsed > timeout:
                    outcome = "timeout"
                    qemu.kill()
        qemu.wait()
    finally:
        if qemu.poll() is None:  # interrupted: never leave QEMU behind
            qemu.kill()
            qemu.wait()
        for fd in sinks:
            os.close(fd)
    with open(console, "a") as log_file:
        log_file.write(console.with_suffix(".qemu").read_text())
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Run COMMAND as root in a throw-away QEMU VM whose kernel has SCTP.",
        usage="%(prog)s [--timeout SECONDS] [--rebuild] -- COMMAND [ARGS...] | --setup",
    )
    parser.add_argument("--timeout", type=float, help="stop the VM after SECONDS (status 124)")
    parser.add_argument("--setup", action="store_true", help="only prepare the cache")
    parser.add_argument("--rebuild", action="store_true", help="download the kernel again")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command and not args.setup:
        parser.error("no COMMAND")
    # SIGTERM/SIGHUP end us through the `finally` that stops QEMU, like Ctrl-C does.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: sys.exit(128 + signum))
    try:
        kernel_dir = prepare(args.rebuild)
        if args.setup:
            log(f"ready: {kernel_dir}")
            return 0
        return boot(kernel_dir, command, args.timeout)
    except (VMError, subprocess.CalledProcessError, FileNotFoundError) as e:
        log(f"FAILED: {e}")
        return 125
    except KeyboardInterrupt:  # QEMU was stopped on the way out
        return 130


if __name__ == "__main__":
    sys.exit(main())
