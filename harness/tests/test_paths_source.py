from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import layout_for, make_fake_tree

from uafault_harness.core.errors import ExitCode, HarnessError
from uafault_harness.core.paths import PROJECT_ROOT, cache_root, resolve_layout
from uafault_harness.setup.source import ensure_source, require_tree


def test_project_root_is_parent_of_harness() -> None:
    assert (PROJECT_ROOT / "harness" / "uafault").is_file()


def test_cache_root_precedence(tmp_path: Path) -> None:
    assert cache_root({"UAFAULT_CACHE": str(tmp_path / "c"), "XDG_CACHE_HOME": "/x"}) == tmp_path / "c"
    assert cache_root({"XDG_CACHE_HOME": "/x", "HOME": "/h"}) == Path("/x/uafault")
    assert cache_root({"HOME": "/h"}) == Path("/h/.cache/uafault")


def test_default_tree_and_build_dir(tmp_path: Path) -> None:
    layout = resolve_layout({"UAFAULT_CACHE": str(tmp_path)})
    assert not layout.user_tree
    assert layout.tree == tmp_path / "linux-source-6.12"
    assert layout.build_dir("um") == tmp_path / "build" / "kunit-um"
    assert layout.build_dir("x86_64") == tmp_path / "build" / "kunit-x86_64"


def test_ksrc_must_be_a_kernel_tree(tmp_path: Path) -> None:
    (tmp_path / "notatree").mkdir()
    (tmp_path / "notatree" / "Makefile").write_text("")
    with pytest.raises(HarnessError) as err:
        resolve_layout({"KSRC": str(tmp_path / "notatree"), "UAFAULT_CACHE": str(tmp_path)})
    assert err.value.code is ExitCode.BAD_TREE
    assert "tools/testing/kunit/kunit.py" in str(err.value)


def test_ksrc_trees_never_share_build_dirs(tmp_path: Path) -> None:
    # Same basename, different parents: the sanitised names could collide.
    a = make_fake_tree(tmp_path / "a" / "linux")
    b = make_fake_tree(tmp_path / "b" / "linux")
    env = {"UAFAULT_CACHE": str(tmp_path / "cache")}
    la = resolve_layout({**env, "KSRC": str(a)})
    lb = resolve_layout({**env, "KSRC": str(b)})
    assert la.user_tree and lb.user_tree
    assert la.build_dir("um") != lb.build_dir("um")
    assert la.build_dir("um").name.endswith("-kunit-um")
    assert la.build_dir("um").parent == tmp_path / "cache" / "build"
    assert la.build_dir("um") != resolve_layout(env).build_dir("um")


def _make_tarball(tmp_path: Path, marker: str) -> Path:
    src = tmp_path / f"src-{marker}"
    make_fake_tree(src / "linux-source-6.12")
    (src / "linux-source-6.12" / "MARKER").write_text(marker)
    tarball = tmp_path / f"linux-{marker}.tar.xz"
    subprocess.run(["tar", "-cJf", str(tarball), "-C", str(src), "linux-source-6.12"], check=True)
    return tarball


def test_source_unpack_then_noop_then_reunpack_on_new_version(tmp_path: Path, fake_project: Path) -> None:
    cache = tmp_path / "cache"
    layout = layout_for(cache / "linux-source-6.12", fake_project, cache, user_tree=False)
    v1 = _make_tarball(tmp_path, "v1")
    assert "unpacked" in ensure_source(layout, v1, "1.0")
    assert layout.stamp.read_text().strip() == "1.0"
    assert (layout.tree / "MARKER").read_text() == "v1"
    assert "up to date" in ensure_source(layout, v1, "1.0")
    v2 = _make_tarball(tmp_path, "v2")
    assert "unpacked" in ensure_source(layout, v2, "2.0")
    assert (layout.tree / "MARKER").read_text() == "v2"
    assert layout.stamp.read_text().strip() == "2.0"
    # No staging or old trees left behind.
    assert sorted(p.name for p in cache.iterdir()) == ["linux-source-6.12"]


def test_source_adopts_hand_unpacked_tree(tmp_path: Path, fake_project: Path) -> None:
    cache = tmp_path / "cache"
    tree = make_fake_tree(cache / "linux-source-6.12")
    layout = layout_for(tree, fake_project, cache, user_tree=False)
    tarball = tmp_path / "never-read.tar.xz"
    tarball.write_bytes(b"")
    assert "adopted" in ensure_source(layout, tarball, "6.12.117-1~deb12u1")
    assert layout.stamp.read_text() == "6.12.117-1~deb12u1\n"
    assert "up to date" in ensure_source(layout, tarball, "6.12.117-1~deb12u1")


def test_require_tree_messages(tmp_path: Path, fake_project: Path) -> None:
    layout = layout_for(tmp_path / "absent", fake_project, tmp_path, user_tree=False)
    with pytest.raises(HarnessError) as err:
        require_tree(layout)
    assert err.value.code is ExitCode.MISSING_PREREQ
    assert "harness/uafault setup" in str(err.value)
