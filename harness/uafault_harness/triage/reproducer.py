"""A standalone C reproducer of one case: the agent's own case runner
(what its Makefile builds uafault-repro from: REPRO_HDRS, the headers,
and REPRO_SRCS: the case runner, the fault kinds, the paths and
repro_main.c) joined into one file with the case baked in, built static."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

from ..core.errors import ExitCode, HarnessError
from ..core.paths import Layout
from .repro import Repro

# The headers a reproducer starts with; then the agent Makefile's
# REPRO_HDRS and REPRO_SRCS (what it builds uafault-repro from), in order.
C_HEADERS: tuple[str, ...] = ("module/uafault.h", "module/uafault_known.h", "harness/agent/exit.h")
AGENT_DIR = "harness/agent"
_MAKE_VAR = re.compile(r"^(\w+) := (.*)$", re.M)
_MAKE_REF = re.compile(r"\$\((\w+)\)")


def c_sources(project: Path) -> tuple[str, ...]:
    """The headers, then REPRO_HDRS and REPRO_SRCS with their $(VARS) expanded."""
    variables = dict(_MAKE_VAR.findall((project / AGENT_DIR / "Makefile").read_text()))

    def expand(text: str) -> str:
        return _MAKE_REF.sub(lambda m: expand(variables.get(m.group(1), "")), text)

    names = expand(variables["REPRO_HDRS"]).split() + expand(variables["REPRO_SRCS"]).split()
    return C_HEADERS + tuple(f"{AGENT_DIR}/{name}" for name in names)


_LOCAL_INCLUDE = re.compile(r'^#include "[^"]+"\n', re.M)
_SPDX = re.compile(r"^(//|/\*) SPDX-License-Identifier:.*\n", re.M)
CC_COMMAND = ("cc", "-static", "-O2", "-pthread")


def c_reproducer(layout: Layout, repro: Repro, header: str) -> str:
    """One C file: the agent's case runner with repro's case baked in."""
    case = repro.cases(1)[0]
    parts = [
        "// SPDX-License-Identifier: GPL-2.0\n/*\n" + "".join(f" * {line}".rstrip() + "\n"
                                                          for line in header.splitlines()) + " */\n",
        "#define _GNU_SOURCE\n",
        # cases.c defines the known-deviation records; here its include of
        # the header is gone and the header comes first.
        "#define UAFAULT_KNOWN_TABLE\n",
        f'#define REPRO_CASE\t{{ "{case.case_id}", "{case.target}", "{case.fault}", '
        f'{case.size}, {case.offset}, {case.seed}, "{case.memory}", "{case.caller}" }}\n',
    ]
    parts += [f"#define REPRO_ROUNDS\t{repro.rounds}\n"] if repro.rounds else []
    parts += [f"#define REPRO_TRIES\t{repro.tries}\n"] if repro.tries > 1 else []
    described = [line for line in repro.env(layout).path_lines if f"path_{line.split()[0]}" == case.target]
    if described:
        parts.append(f'#define REPRO_PATHS\t"{described[0]}\\n"\n')
    for rel in c_sources(layout.project):
        text = (layout.project / rel).read_text()
        parts.append(f"\n/* ---- {rel} ---- */\n" + _LOCAL_INCLUDE.sub("", _SPDX.sub("", text, count=1)))
    return "".join(parts)


def kernel_cflags(project: Path, build_dir: Path | None) -> tuple[str, ...]:
    """What the agent's Makefile compiles with for the kernel built in
    build_dir (its uapi, iommufd's test ABI); none without one."""
    if build_dir is None:
        return ()
    cmd = ["make", "-s", "-C", str(project / AGENT_DIR), "kernel-cflags", f"KDIR={build_dir}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise HarnessError(ExitCode.BUILD_FAILED, f"`{shlex.join(cmd)}` failed:\n{proc.stderr.strip()}")
    return tuple(shlex.split(proc.stdout))


def build_command(source: Path, binary: Path, cflags: tuple[str, ...] = ()) -> list[str]:
    return [*CC_COMMAND, *cflags, "-o", str(binary), str(source)]


def compile_c(source: Path, binary: Path, cflags: tuple[str, ...] = ()) -> None:
    cmd = build_command(source, binary, cflags)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise HarnessError(ExitCode.BUILD_FAILED, f"`{shlex.join(cmd)}` failed:\n{proc.stderr.strip()}")
