"""Described paths: a device node and one call of it, described in TOML
(configs/paths/*.toml, and any file a campaign or repro config names in
`paths`), run by the agent like a built-in path.  One [path] table:

    name = "zero_read"          # the target is path_zero_read
    device = "/dev/zero"
    open = "rdonly"             # rdonly, wronly, rdwr (default)
    call = "read"               # read, write or ioctl
    direction = "to_user"       # to_user: the kernel writes the range
    writes = "zeros"            # zeros (checked) or any (the device's own)
    contract = "copy"           # copy, pages, all, chunks, dio
    pins = "none"               # none, short, longterm, longterm_write:
                                # how the device takes the pages (GUP
                                # refuses a long-term write pin of ext4
                                # page cache: the ext4_shared memory kind)

An ioctl also names its `request` and its argument: `arg = "range"` (the
range is the argument; `fixed_len` bytes of it) or `arg = "struct"` with
`arg_size`, `ptr_offset`, `len_offset` and `len_size` (4 or 8): the agent
builds a zeroed struct with the range's address and length there.
`returns` says what the call returns on success: "count" (the bytes
moved; read and write) or "zero" (0 for the whole range; ioctl)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .spec import TableChecker, read_table

PATHS_DIR = Path("configs/paths")
KEYS = ("name", "device", "open", "call", "request", "arg", "arg_size", "ptr_offset", "len_offset", "len_size",
        "fixed_len", "returns", "direction", "writes", "contract", "pins")
OPEN_MODES = ("rdwr", "rdonly", "wronly")
CALLS = ("read", "write", "ioctl")
DIRECTIONS = ("to_user", "from_user")
CONTRACTS = ("copy", "pages", "all", "chunks", "dio")
PINS = ("none", "short", "longterm", "longterm_write")
# The agent's struct argument buffer (paths_described.c, MAX_ARG).
MAX_ARG = 256
_NAME = re.compile(r"[a-z0-9_]{1,40}")
_DEVICE = re.compile(r"/dev/[\w./-]+")


@dataclass(frozen=True)
class DescribedPath:
    path: Path
    name: str
    device: str
    open: str
    call: str
    request: int
    arg: str            # "range", or the struct's size
    ptr_offset: int
    len_offset: int
    len_size: int
    fixed_len: int
    returns: str
    direction: str
    writes: str
    contract: str
    pins: str = "none"

    @property
    def target(self) -> str:
        return f"path_{self.name}"

    def agent_line(self) -> str:
        """The line harness/agent/paths_described.c reads."""
        return " ".join(str(x) for x in (
            self.name, self.device, self.open, self.call, self.request, self.arg, self.ptr_offset,
            self.len_offset, self.len_size, self.fixed_len, self.returns, self.direction, self.writes,
            self.contract, self.pins))


def _ioctl_arg(check: TableChecker) -> tuple[str, int, int, int, int]:
    """(arg, ptr_offset, len_offset, len_size, fixed_len) of an ioctl."""
    arg = check.string("arg", ("range", "struct"), "struct")
    if arg == "range":
        fixed = check.int("fixed_len", 1, MAX_ARG, 0)
        if not fixed:
            raise check.error("fixed_len", "an ioctl whose argument is the range needs its length (1..256)")
        return "range", 0, 0, 0, fixed
    size = check.int("arg_size", 1, MAX_ARG, 0)
    if not size:
        raise check.error("arg_size", f"a struct argument needs its size (1..{MAX_ARG})")
    len_size = check.int("len_size", 4, 8, 8)
    if len_size not in (4, 8):
        raise check.error("len_size", "must be 4 or 8")
    ptr = check.int("ptr_offset", 0, size - 8, 0) if size >= 8 else -1
    if ptr < 0:
        raise check.error("arg_size", "must hold the 8-byte pointer")
    length = check.int("len_offset", 0, size - len_size, 8 if size >= 8 + len_size else 0)
    if ptr < length + len_size and length < ptr + 8:
        raise check.error("len_offset", f"overlaps the pointer at {ptr}")
    return str(size), ptr, length, len_size, check.int("fixed_len", 0, MAX_ARG, 0)


def load_path(path: Path) -> DescribedPath:
    """Read and check a description; every error names file:line: key."""
    _, check = read_table(path, "path", KEYS)
    name = check.string("name")
    if not _NAME.fullmatch(name):
        raise check.error("name", "must be 1..40 of a-z, 0-9 and '_'")
    device = check.string("device")
    if not _DEVICE.fullmatch(device):
        raise check.error("device", "must be a device node under /dev")
    call = check.string("call", CALLS)
    if call == "ioctl":
        request = check.int("request", 1, 2**32 - 1, 0)
        if not request:
            raise check.error("request", "an ioctl needs its request number")
        arg, ptr, length, len_size, fixed = _ioctl_arg(check)
        direction = check.string("direction", DIRECTIONS)
        returns = check.string("returns", ("count", "zero"), "zero")
    else:
        for key in ("request", "arg", "arg_size", "ptr_offset", "len_offset", "len_size"):
            if key in check.table:
                raise check.error(key, f"only an ioctl takes it, not {call}")
        arg, ptr, length, len_size, fixed = "range", 0, 0, 0, check.int("fixed_len", 0, MAX_ARG, 0)
        request = 0
        direction = check.string("direction", DIRECTIONS, "to_user" if call == "read" else "from_user")
        if direction != ("to_user" if call == "read" else "from_user"):
            raise check.error("direction", f"{call} moves data {'to' if call == 'read' else 'from'} user memory")
        returns = check.string("returns", ("count", "zero"), "count")
    writes = check.string("writes", ("zeros", "any"), "any")
    if direction == "from_user" and "writes" in check.table:
        raise check.error("writes", "only a path that writes the range (to_user) says what it writes")
    return DescribedPath(path, name, device, check.string("open", OPEN_MODES, "rdwr"), call, request, arg, ptr,
                         length, len_size, fixed, returns, direction, writes, check.string("contract", CONTRACTS),
                         check.string("pins", PINS, "none"))


def load_paths(files: tuple[Path, ...]) -> tuple[DescribedPath, ...]:
    """The descriptions in files; two with one name are an error."""
    described: dict[str, DescribedPath] = {}
    for file in files:
        one = load_path(file)
        if one.name in described:
            _, check = read_table(file, "path", KEYS)
            raise check.error("name", f"{one.name!r} is also {described[one.name].path}'s")
        described[one.name] = one
    return tuple(described.values())


def shipped_paths(project: Path) -> tuple[Path, ...]:
    """configs/paths/*.toml, which every guest boot runs."""
    return tuple(sorted((project / PATHS_DIR).glob("*.toml")))


def agent_lines(project: Path, own: tuple[Path, ...]) -> tuple[str, ...]:
    """The agent lines of configs/paths/ and of the paths a file names."""
    return tuple(p.agent_line() for p in load_paths(shipped_paths(project) + own))
