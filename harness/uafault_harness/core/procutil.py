"""Subprocess helpers shared by the layers and the bench."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import IO


def stream_command(cmd: list[str], cwd: Path, log: IO[str] | None) -> int:
    """Run cmd, echoing its output live and into log."""
    proc = subprocess.Popen(
        cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, errors="backslashreplace", bufsize=1,
    )
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if log is not None:
                log.write(line)
                log.flush()
    finally:
        proc.stdout.close()
        rc = proc.wait()
    return rc
