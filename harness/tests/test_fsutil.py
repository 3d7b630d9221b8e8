"""The build lock: two harness commands on one cache take turns."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from uafault_harness.core.fsutil import dir_lock, locked


def test_a_second_holder_waits_and_says_for_what(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock = dir_lock(tmp_path / "build" / "guest-x86_64")
    assert lock == tmp_path / "build" / ".guest-x86_64.lock"
    order: list[str] = []
    first_in = threading.Event()

    def first() -> None:
        with locked(lock, "guest kernel build"):
            first_in.set()
            time.sleep(0.5)
            order.append("first out")

    holder = threading.Thread(target=first)
    holder.start()
    first_in.wait(5)
    with locked(lock, "guest kernel build"):
        order.append("second in")
    holder.join()
    assert order == ["first out", "second in"]
    assert f"waiting for another harness command's guest kernel build ({lock})" in capsys.readouterr().out


def test_an_uncontended_lock_says_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with locked(tmp_path / ".x.lock", "build"):
        pass
    with locked(tmp_path / ".x.lock", "build"):
        pass
    assert capsys.readouterr().out == ""
