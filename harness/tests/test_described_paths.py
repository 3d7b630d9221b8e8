"""Device paths described in TOML: what the agent is told, and the
errors (file:line: key) of a bad description."""

from __future__ import annotations

from pathlib import Path

import pytest

from uafault_harness.campaign.paths import load_path, load_paths, shipped_paths
from uafault_harness.core.errors import ExitCode, HarnessError
from uafault_harness.core.paths import PROJECT_ROOT

IOCTL = """\
[path]
name = "mydev_submit"
device = "/dev/mydev"
call = "ioctl"
request = 0xc0186d01
arg_size = 24
ptr_offset = 8
len_offset = 16
len_size = 4
direction = "from_user"
contract = "all"
"""


def write(tmp_path: Path, text: str, name: str = "p.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_struct_ioctl_becomes_one_agent_line(tmp_path: Path) -> None:
    described = load_path(write(tmp_path, IOCTL))
    assert described.target == "path_mydev_submit"
    assert described.agent_line() == ("mydev_submit /dev/mydev rdwr ioctl 3222826241 24 8 16 4 0 zero "
                                      "from_user any all none")
    # A device that keeps the buffer pinned for writing says so: on memory
    # that refuses a long-term write pin the oracle expects a refusal.
    pinned = load_path(write(tmp_path, IOCTL + 'pins = "longterm_write"\n'))
    assert pinned.agent_line().endswith(" all longterm_write")


def test_the_shipped_descriptions_load() -> None:
    files = shipped_paths(PROJECT_ROOT)
    names = {p.name for p in load_paths(files)}
    assert {"zero_read", "uafault_version"} <= names
    zero = load_path(PROJECT_ROOT / "configs/paths/zero_read.toml")
    assert zero.agent_line() == "zero_read /dev/zero rdonly read 0 range 0 0 0 0 count to_user zeros copy none"


@pytest.mark.parametrize("change, line, key", [
    (('name = "mydev_submit"', 'name = "My Dev"'), 2, "name"),
    (('device = "/dev/mydev"', 'device = "/tmp/x"'), 3, "device"),
    (('call = "ioctl"', 'call = "mmap"'), 4, "call"),
    (('request = 0xc0186d01', 'request = 0'), 5, "request"),
    (('len_size = 4', 'len_size = 2'), 9, "len_size"),
    (('len_offset = 16', 'len_offset = 12'), 8, "len_offset"),
    (('arg_size = 24', 'arg_size = 4096'), 6, "arg_size"),
    (('contract = "all"', 'contract = "most"'), 11, "contract"),
    (('direction = "from_user"', 'direction = "sideways"'), 10, "direction"),
    (('contract = "all"', 'contract = "all"\nwrites = "zeros"'), 12, "writes"),
    (('contract = "all"', 'contract = "all"\nflags = 1'), 12, "flags"),
])
def test_errors_name_file_line_and_key(tmp_path: Path, change: tuple[str, str], line: int, key: str) -> None:
    path = write(tmp_path, IOCTL.replace(*change))
    with pytest.raises(HarnessError) as err:
        load_path(path)
    assert err.value.code is ExitCode.BAD_CONFIG
    assert str(err.value).startswith(f"{path}:{line}: {key}: "), str(err.value)


def test_read_and_write_take_no_ioctl_keys_and_move_their_own_way(tmp_path: Path) -> None:
    read = '[path]\nname = "r"\ndevice = "/dev/zero"\ncall = "read"\ncontract = "copy"\n'
    for extra, key in (('request = 1', "request"), ('direction = "from_user"', "direction")):
        path = write(tmp_path, read + extra + "\n")
        with pytest.raises(HarnessError) as err:
            load_path(path)
        assert str(err.value).startswith(f"{path}:6: {key}: ")


def test_two_descriptions_of_one_name_are_an_error(tmp_path: Path) -> None:
    a = write(tmp_path, IOCTL, "a.toml")
    b = write(tmp_path, IOCTL, "b.toml")
    with pytest.raises(HarnessError) as err:
        load_paths((a, b))
    assert str(err.value).startswith(f"{b}:2: name: ") and str(a) in str(err.value)


def test_the_agent_takes_exactly_the_contracts_and_words_the_host_checks() -> None:
    """campaign/paths.py validates what harness/agent/paths_described.c
    parses: the same contract names, calls and open modes."""
    import re

    from uafault_harness.campaign.paths import CALLS, CONTRACTS, OPEN_MODES

    source = (PROJECT_ROOT / "harness/agent/paths_described.c").read_text()
    names = source[source.index("static const char * const names[]"):]
    names = names[:names.index("};")]
    assert sorted(re.findall(r'= "(\w+)"', names)) == sorted(CONTRACTS)
    assert all(f'"{word}"' in source for word in (*CALLS[:2], *OPEN_MODES[1:]))
