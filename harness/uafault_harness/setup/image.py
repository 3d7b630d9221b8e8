"""A prebuilt distribution kernel for the guest: Debian 12's own
linux-image-ABI-amd64 with its linux-headers, no kernel build.

The packages are downloaded (`apt-get download`) and unpacked (`dpkg-deb
-x`) into the cache, never installed on the host.  uafault's modules build
against the headers with M=, as any out-of-tree module does; the agent
compiles against the host's uapi headers (Debian 12's linux-libc-dev is
the same 6.1).  The image's drivers the guest needs (virtio, zram, the
block devices and file systems the paths use) are modules here, so the
base initramfs carries them and /init loads them (guest/initramfs.py);
guest/build.py makes it the guest kernel.

What the distribution's config leaves out (fault injection, KUnit,
GUP_TEST, IOMMUFD_TEST, KASAN, gcov) is read from its config: the agent
says which kinds and paths it cannot run, and why."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..core import fsutil
from ..core.errors import ExitCode, HarnessError
from ..core.paths import KernelSource, Layout

IMAGES_DIRNAME = "images"
STAMP_NAME = ".uafault-image"
# The image's modules the guest loads at boot, in this order, each with
# what it needs first (modules.dep): the job disk, swap on zram, and the
# devices and file systems the agent's paths and memory kinds use.  One
# the image lacks is left out (its paths are then unavailable).
# ext4 asks the crypto API for crc32c (no modprobe in the guest to load
# it on demand).
BOOT_MODULES: tuple[str, ...] = (
    "virtio_pci", "virtio_blk", "zram", "brd", "null_blk", "loop", "crc32c_generic", "ext4", "fuse", "vivid",
)
_DEPENDS = re.compile(r"^\s*Depends:\s*(linux-image-(\d+\.\d+\.\d+-\d+)-amd64)\s*$", re.M)


@dataclass(frozen=True)
class Image:
    """An unpacked distribution kernel."""
    abi: str            # 6.1.0-57
    release: str        # 6.1.0-57-amd64 (uname -r)
    version: str        # the Debian package version, 6.1.192-3
    root: Path          # where the packages are unpacked

    @property
    def vmlinuz(self) -> Path:
        return self.root / "boot" / f"vmlinuz-{self.release}"

    @property
    def config(self) -> Path:
        return self.root / "boot" / f"config-{self.release}"

    @property
    def headers(self) -> Path:
        """The build directory modules compile against (M=)."""
        return self.root / "usr" / "src" / f"linux-headers-{self.release}"

    @property
    def modules(self) -> Path:
        return self.root / "lib" / "modules" / self.release

    @property
    def stamp(self) -> Path:
        return self.root.parent / STAMP_NAME

    def describe(self) -> str:
        return f"Debian linux-image-{self.release} {self.version}"


def newest_abi() -> str:
    """The ABI linux-image-amd64 depends on in the host's apt lists."""
    proc = subprocess.run(["apt-cache", "depends", "--no-recommends", "--no-suggests", "linux-image-amd64"],
                          capture_output=True, text=True, check=False)
    found = _DEPENDS.search(proc.stdout)
    if proc.returncode != 0 or found is None:
        raise HarnessError(ExitCode.MISSING_PREREQ, "apt knows no linux-image-amd64 (run apt-get update, or name "
                                                    "the image: --kernel-source image:6.1.0-N)")
    return found.group(2)


def packages(abi: str) -> tuple[str, ...]:
    series = ".".join(abi.split(".")[:2])
    return (f"linux-image-{abi}-amd64-unsigned", f"linux-headers-{abi}-amd64", f"linux-headers-{abi}-common",
            f"linux-kbuild-{series}")


def _run(cmd: list[str], cwd: Path, what: str) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise HarnessError(ExitCode.MISSING_PREREQ, f"{what}: `{' '.join(cmd)}` failed: "
                                                    f"{(proc.stderr or proc.stdout).strip()[-400:]}")
    return proc.stdout


def _unpack(abi: str, dest: Path) -> Image:
    """Download and unpack the packages of abi into dest/root."""
    debs = dest / "debs"
    debs.mkdir(parents=True)
    print(f"[uafault] image {abi}: apt-get download {' '.join(packages(abi))}", flush=True)
    _run(["apt-get", "download", *packages(abi)], debs, f"downloading the {abi} image and headers")
    root = dest / "root"
    version = ""
    for deb in sorted(debs.glob("*.deb")):
        _run(["dpkg-deb", "-x", str(deb), str(root)], dest, f"unpacking {deb.name}")
        if deb.name.startswith("linux-image-"):
            version = _run(["dpkg-deb", "-f", str(deb), "Version"], dest, deb.name).strip()
    release = f"{abi}-amd64"
    image = Image(abi, release, version, root)
    # modules.dep for the unpacked tree: the package leaves it to depmod.
    _run(["depmod", "-b", str(root), release], dest, "depmod")
    for needed in (image.vmlinuz, image.config, image.headers / ".config"):
        if not needed.is_file():
            raise HarnessError(ExitCode.MISSING_PREREQ, f"the {abi} packages hold no {needed.relative_to(root)}")
    shutil.rmtree(debs)
    return image


def prepare_image(layout: Layout, source: KernelSource) -> Image:
    """The unpacked image of source (image[:ABI]), downloading it once."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise HarnessError(ExitCode.MISSING_PREREQ, "a prebuilt image needs Debian's apt-get and dpkg-deb")
    try:
        return _prepare(layout, source.version or newest_abi())
    except HarnessError:
        if source.version:
            raise
    # Stale apt lists may name an ABI the archive has dropped since (a
    # point release replaced it): read them again, once.
    _run(["apt-get", "update"], layout.cache, "apt-get update")
    return _prepare(layout, newest_abi())


def _prepare(layout: Layout, abi: str) -> Image:
    """The image of abi, unpacked into the cache once (under its lock)."""
    home = layout.cache / IMAGES_DIRNAME / abi
    home.parent.mkdir(parents=True, exist_ok=True)
    with fsutil.locked(fsutil.dir_lock(home), f"unpacking the {abi} image"):
        stamp = home / STAMP_NAME
        if stamp.is_file():
            release, version = stamp.read_text().split()
            return Image(abi, release, version, home / "root")
        staging = Path(tempfile.mkdtemp(prefix=f".{abi}-", dir=home.parent))
        try:
            image = _unpack(abi, staging)
            shutil.rmtree(home, ignore_errors=True)
            staging.rename(home)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        image = Image(abi, image.release, image.version, home / "root")
        # The headers' Makefile includes the common headers from /usr/src:
        # the unpacked ones instead.
        makefile = image.headers / "Makefile"
        makefile.write_text(re.sub(r"(?m)^include /usr/src/", f"include {image.root}/usr/src/",
                                   makefile.read_text()))
        fsutil.atomic_write_text(image.stamp, f"{image.release} {image.version}\n")
        return image


def config_options(config: Path) -> dict[str, str]:
    """CONFIG_X -> y/m/value of a kernel config."""
    out: dict[str, str] = {}
    for line in config.read_text(errors="replace").splitlines():
        name, sep, value = line.partition("=")
        if sep and name.startswith("CONFIG_"):
            out[name] = value
    return out


def module_deps(modules: Path) -> dict[str, list[str]]:
    """name -> the relative paths of its module and its dependencies
    (modules.dep: "kernel/a.ko: kernel/b.ko kernel/c.ko")."""
    out: dict[str, list[str]] = {}
    for line in (modules / "modules.dep").read_text().splitlines():
        path, _, deps = line.partition(":")
        name = Path(path).name.split(".")[0].replace("-", "_")
        out[name] = [path] + deps.split()
    return out


def boot_modules(image: Image, wanted: tuple[str, ...] = BOOT_MODULES) -> list[tuple[Path, str]]:
    """(host path, module name) of each module the guest loads at boot, a
    module after everything it depends on, each once."""
    deps = module_deps(image.modules)
    order: list[str] = []

    def visit(path: str) -> None:
        name = Path(path).name.split(".")[0].replace("-", "_")
        if path in order:
            return
        for dep in deps.get(name, [path])[1:]:
            visit(dep)
        order.append(path)

    for name in wanted:
        if name in deps:
            visit(deps[name][0])
    return [(image.modules / path, Path(path).name.split(".")[0].replace("-", "_")) for path in order]


def image_digest(image: Image) -> str:
    return hashlib.sha256(image.config.read_bytes()).hexdigest()
