"""Where everything lives.  The only module that reads the environment for
locations; everything else receives a Layout."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .errors import ExitCode, HarnessError

# harness/uafault_harness/paths.py -> project root is two levels up.
PROJECT_ROOT: Path = Path(__file__).resolve().parents[3]

# The Debian kernel source series built by default: the newest point
# release of it Debian serves (setup installs linux-source-<series>).
DEFAULT_SERIES = "6.12"
DEBIAN_SOURCE_PACKAGE = f"linux-source-{DEFAULT_SERIES}"
DEBIAN_SOURCE_TARBALL = Path("/usr/src") / f"{DEBIAN_SOURCE_PACKAGE}.tar.xz"
CACHE_TREE_NAME = DEBIAN_SOURCE_PACKAGE
# Where a guest kernel comes from (`--kernel-source`, $UAFAULT_KERNEL_SOURCE,
# a campaign's or repro config's kernel_source):
#   debian[:SERIES]  Debian's linux-source-SERIES, built here (6.12, 6.1)
#   image[:ABI]      Debian 12's prebuilt linux-image-ABI-amd64 with its
#                    linux-headers, no kernel build (ABI e.g. 6.1.0-57; the
#                    archive's newest when left out)
#   ksrc             the tree $KSRC names, built here
KERNEL_SOURCE_ENV = "UAFAULT_KERNEL_SOURCE"
SOURCE_KINDS: tuple[str, ...] = ("debian", "image", "ksrc")
_SERIES = re.compile(r"^\d+\.\d+$")
_IMAGE_ABI = re.compile(r"^\d+\.\d+\.\d+-\d+$")


@dataclass(frozen=True)
class KernelSource:
    kind: str
    # debian: the series ("6.12"); image: the ABI ("6.1.0-57") or "" for
    # the archive's newest; ksrc: "".
    version: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.version}" if self.version else self.kind

    @property
    def package(self) -> str:
        """The Debian source package of a debian source."""
        return f"linux-source-{self.version}"


DEFAULT_SOURCE = KernelSource("debian", DEFAULT_SERIES)


def parse_kernel_source(text: str) -> KernelSource:
    """debian[:SERIES], image[:ABI] or ksrc; HarnessError(USAGE) else."""
    kind, _, version = text.strip().partition(":")
    if kind == "debian" and (not version or _SERIES.match(version)):
        return KernelSource("debian", version or DEFAULT_SERIES)
    if kind == "image" and (not version or _IMAGE_ABI.match(version)):
        return KernelSource("image", version)
    if kind == "ksrc" and not version:
        return KernelSource("ksrc")
    raise HarnessError(ExitCode.USAGE, f"bad kernel source {text!r}: expected debian[:SERIES] (e.g. debian:6.1), "
                                       "image[:ABI] (e.g. image:6.1.0-57) or ksrc")
SOURCE_STAMP_NAME = ".uafault-source"
KUNIT_TOOL_RELPATH = Path("tools/testing/kunit")
KUNIT_PY_RELPATH = KUNIT_TOOL_RELPATH / "kunit.py"
# The guest kernel is x86_64 only: SMAP and the QEMU machine are x86.
GUEST_ARCH = "x86_64"
# What makes a directory usable as a kernel tree for us.
TREE_MARKERS: tuple[Path, ...] = (Path("Makefile"), KUNIT_PY_RELPATH)


def missing_tree_markers(tree: Path) -> list[Path]:
    return [m for m in TREE_MARKERS if not (tree / m).is_file()]


def cache_root(env: Mapping[str, str]) -> Path:
    if env.get("UAFAULT_CACHE"):
        return Path(env["UAFAULT_CACHE"]).expanduser()
    xdg = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME", "~")) / ".cache")
    return Path(xdg).expanduser() / "uafault"


def _build_dir_prefix(tree: Path) -> str:
    # Readable and collision-free: two trees whose sanitised paths agree
    # still differ in the hash.
    text = str(tree.resolve())
    slug = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[-40:]
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return f"{slug}-{digest}"


@dataclass(frozen=True)
class Layout:
    project: Path
    cache: Path
    tree: Path
    # True when the tree came from $KSRC: we never unpack over, or silently
    # modify, a tree the user owns.
    user_tree: bool
    # Where runs and the campaign database live: results/ of the project, or
    # $UAFAULT_RESULTS (benchmarks keep their runs out of the history).
    results: Path | None = None
    # Where the guest kernel comes from.  An image source keeps the default
    # tree for what needs one (UML, kunit.py's parser).
    source: KernelSource = DEFAULT_SOURCE

    @property
    def source_package(self) -> str:
        """The Debian package the tree is unpacked from."""
        return self.source.package if self.source.kind == "debian" else DEBIAN_SOURCE_PACKAGE

    @property
    def source_tarball(self) -> Path:
        return Path("/usr/src") / f"{self.source_package}.tar.xz"

    @property
    def kunit_dir(self) -> Path:
        return self.project / "kunit"

    @property
    def results_root(self) -> Path:
        return self.results if self.results is not None else self.project / "results"

    @property
    def kunit_py(self) -> Path:
        return self.tree / KUNIT_PY_RELPATH

    @property
    def kunit_tool_dir(self) -> Path:
        return self.tree / KUNIT_TOOL_RELPATH

    @property
    def stamp(self) -> Path:
        return self.tree / SOURCE_STAMP_NAME

    def build_dir(self, arch: str, flavour: str = "kunit", variant: str = "") -> Path:
        name = f"{flavour}-{arch}" + (f"-{variant}" if variant else "")
        if self.user_tree:
            name = f"{_build_dir_prefix(self.tree)}-{name}"
        elif self.source_package != DEBIAN_SOURCE_PACKAGE:
            name = f"{self.source_package}-{name}"
        return self.cache / "build" / name

    def guest_build_dir(self, kasan: bool) -> Path:
        """The guest kernel's build dir, shared by guest-build and guest."""
        return self.build_dir(GUEST_ARCH, "guest", "kasan" if kasan else "")


def resolve_layout(env: Mapping[str, str] | None = None, project: Path = PROJECT_ROOT) -> Layout:
    env = os.environ if env is None else env
    cache = cache_root(env)
    results = Path(env["UAFAULT_RESULTS"]).expanduser().resolve() if env.get("UAFAULT_RESULTS") else None
    source = parse_kernel_source(env[KERNEL_SOURCE_ENV]) if env.get(KERNEL_SOURCE_ENV) else DEFAULT_SOURCE
    ksrc = env.get("KSRC")
    if source.kind == "ksrc" and not ksrc:
        raise HarnessError(ExitCode.USAGE, "kernel source ksrc: set KSRC to a kernel tree")
    if ksrc and not env.get(KERNEL_SOURCE_ENV):
        # KSRC alone chooses the user's tree, as it always did.
        source = KernelSource("ksrc")
    if source.kind == "ksrc":
        tree = Path(ksrc or "").expanduser()
        missing = missing_tree_markers(tree)
        if missing:
            raise HarnessError(
                ExitCode.BAD_TREE,
                f"KSRC={ksrc} is not a usable kernel tree: missing "
                + ", ".join(str(m) for m in missing)
                + ". Point KSRC at a kernel source tree, or unset it to use "
                f"the Debian {DEBIAN_SOURCE_PACKAGE} tree in {cache}.",
            )
        return Layout(project=project, cache=cache, tree=tree.resolve(), user_tree=True,
                      results=results, source=source)
    package = source.package if source.kind == "debian" else DEBIAN_SOURCE_PACKAGE
    return Layout(project=project, cache=cache, tree=cache / package, user_tree=False, results=results,
                  source=source)


def with_source(layout: Layout, source: KernelSource) -> Layout:
    """layout for another kernel source (a campaign's or repro config's)."""
    if source == layout.source:
        return layout
    env = dict(os.environ)
    env.update({KERNEL_SOURCE_ENV: str(source), "UAFAULT_CACHE": str(layout.cache)})
    if layout.results is not None:
        env["UAFAULT_RESULTS"] = str(layout.results)
    return resolve_layout(env, layout.project)
