"""A standalone C reproducer of one case: the agent's own case runner
(cases.c, device.c, umem.c, faults.c, the kind families, repro_main.c and the
headers) joined into one file with the case baked in, built static."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

from ..core.errors import ExitCode, HarnessError
from ..core.paths import Layout
from .repro import Repro

# The agent's pieces a reproducer is made of, in order (harness/agent's
# Makefile builds the same set as uafault-repro).
C_SOURCES: tuple[str, ...] = (
    "module/uafault.h", "harness/agent/exit.h", "harness/agent/agent.h", "harness/agent/cases.c",
    "harness/agent/device.c",
    "harness/agent/umem.c", "harness/agent/faults.c", "harness/agent/kinds_layout.c", "harness/agent/kinds_race.c",
    "harness/agent/kinds_held.c", "harness/agent/kinds_inject.c", "harness/agent/repro_main.c",
)
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
        f'#define REPRO_CASE\t{{ "{case.case_id}", "{case.target}", "{case.fault}", '
        f"{case.size}, {case.offset}, {case.seed} }}\n",
    ] + ([f"#define REPRO_ROUNDS\t{repro.rounds}\n"] if repro.rounds else [])
    for rel in C_SOURCES:
        text = (layout.project / rel).read_text()
        parts.append(f"\n/* ---- {rel} ---- */\n" + _LOCAL_INCLUDE.sub("", _SPDX.sub("", text, count=1)))
    return "".join(parts)


def compile_c(source: Path, binary: Path) -> None:
    cmd = [*CC_COMMAND, "-o", str(binary), str(source)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise HarnessError(ExitCode.BUILD_FAILED, f"`{shlex.join(cmd)}` failed:\n{proc.stderr.strip()}")
