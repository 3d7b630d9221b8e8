from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import KCONFIG_DEBUG, LIB_MAKEFILE

from uafault_harness.core.errors import ExitCode, HarnessError
from uafault_harness.setup import kunit_report
from uafault_harness.setup.link import LINK_MARKER, LinkState, link, link_state, unlink


def test_link_adds_symlink_and_one_marked_line_each(fake_tree: Path, fake_project: Path) -> None:
    changes = link(fake_tree, fake_project)
    assert len(changes) == 3
    assert os.readlink(fake_tree / "lib/uafault") == str(fake_project)
    kconfig = (fake_tree / "lib/Kconfig.debug").read_text()
    makefile = (fake_tree / "lib/Makefile").read_text()
    assert kconfig == KCONFIG_DEBUG.decode() + f'{LINK_MARKER}\nsource "lib/uafault/Kconfig"\n'
    assert makefile == LIB_MAKEFILE.decode() + f"{LINK_MARKER}\nobj-y += uafault/\n"
    assert link_state(fake_tree, fake_project) is LinkState.LINKED


def test_link_twice_changes_nothing(fake_tree: Path, fake_project: Path) -> None:
    link(fake_tree, fake_project)
    before = [(fake_tree / p).read_bytes() for p in ("lib/Kconfig.debug", "lib/Makefile")]
    assert link(fake_tree, fake_project) == []
    after = [(fake_tree / p).read_bytes() for p in ("lib/Kconfig.debug", "lib/Makefile")]
    assert before == after
    assert (fake_tree / "lib/Kconfig.debug").read_text().count("lib/uafault/Kconfig") == 1


def test_unlink_restores_files_byte_for_byte(fake_tree: Path, fake_project: Path) -> None:
    link(fake_tree, fake_project)
    changes = unlink(fake_tree, fake_project)
    assert len(changes) == 3
    assert (fake_tree / "lib/Kconfig.debug").read_bytes() == KCONFIG_DEBUG
    assert (fake_tree / "lib/Makefile").read_bytes() == LIB_MAKEFILE
    assert not os.path.lexists(fake_tree / "lib/uafault")
    assert link_state(fake_tree, fake_project) is LinkState.NOT_LINKED
    assert unlink(fake_tree, fake_project) == []


def test_link_repoints_stale_symlink(fake_tree: Path, fake_project: Path, tmp_path: Path) -> None:
    old_clone = tmp_path / "old-clone"
    old_clone.mkdir()
    os.symlink(old_clone, fake_tree / "lib/uafault")
    assert link_state(fake_tree, fake_project) is LinkState.STALE
    changes = link(fake_tree, fake_project)
    assert any("re-pointed" in c and str(old_clone) in c for c in changes)
    assert (fake_tree / "lib/uafault").resolve() == fake_project.resolve()


def test_link_refuses_real_directory(fake_tree: Path, fake_project: Path) -> None:
    (fake_tree / "lib/uafault").mkdir()
    with pytest.raises(HarnessError) as err:
        link(fake_tree, fake_project)
    assert err.value.code is ExitCode.BAD_TREE
    assert "not a symlink" in str(err.value)
    assert link_state(fake_tree, fake_project) is LinkState.BLOCKED
    assert (fake_tree / "lib/Kconfig.debug").read_bytes() == KCONFIG_DEBUG


def test_hand_made_link_is_recognised(fake_tree: Path, fake_project: Path) -> None:
    # The same lines added by hand (as on a developer's tree) count as linked.
    with open(fake_tree / "lib/Kconfig.debug", "a") as f:
        f.write(f'{LINK_MARKER}\nsource "lib/uafault/Kconfig"\n')
    assert link_state(fake_tree, fake_project) is LinkState.PARTIAL
    link(fake_tree, fake_project)
    assert (fake_tree / "lib/Kconfig.debug").read_text().count(LINK_MARKER) == 1


def test_unlink_leaves_foreign_edits(fake_tree: Path, fake_project: Path) -> None:
    link(fake_tree, fake_project)
    with open(fake_tree / "lib/Makefile", "ab") as f:
        f.write(b"obj-y += mine.o\n")
    unlink(fake_tree, fake_project)
    assert (fake_tree / "lib/Makefile").read_bytes() == LIB_MAKEFILE + b"obj-y += mine.o\n"


# 6.1's lib/kunit/test.c around a parameter's result line, as it ships.
KUNIT_TEST_C_6_1 = (
    "\t\t\twhile (test.param_value) {\n"
    "\t\t\t\tkunit_run_case_catch_errors(suite, test_case, &test);\n"
    "\n"
    "\t\t\t\tkunit_log(KERN_INFO, &test,\n"
    "\t\t\t\t\t  KUNIT_SUBTEST_INDENT KUNIT_SUBTEST_INDENT\n"
    '\t\t\t\t\t  "%s %d %s",\n'
    "\t\t\t\t\t  kunit_status_to_ok_not_ok(test.status),\n"
    "\t\t\t\t\t  test.param_index + 1, param_desc);\n"
    "\n"
    "\t\t\t\t/* Get next param. */\n"
)


def test_link_makes_old_kunit_print_a_parameter_skip(fake_tree: Path, fake_project: Path) -> None:
    test_c = fake_tree / "lib/kunit/test.c"
    test_c.parent.mkdir(parents=True)
    test_c.write_text(KUNIT_TEST_C_6_1)
    assert kunit_report.needed(fake_tree)
    changes = link(fake_tree, fake_project)
    assert len(changes) == 4 and str(test_c) in changes[-1]
    text = test_c.read_text()
    assert '"%s %d %s%s%s"' in text and "test.status_comment" in text and kunit_report.MARKER in text
    assert link_state(fake_tree, fake_project) is LinkState.LINKED
    assert link(fake_tree, fake_project) == []
    # The symlink and hooks alone are not linked while the edit is missing.
    test_c.write_text(KUNIT_TEST_C_6_1)
    assert link_state(fake_tree, fake_project) is LinkState.PARTIAL
    link(fake_tree, fake_project)
    assert len(unlink(fake_tree, fake_project)) == 4
    assert test_c.read_text() == KUNIT_TEST_C_6_1
    assert link_state(fake_tree, fake_project) is LinkState.NOT_LINKED


def test_newer_kunit_is_left_alone(fake_tree: Path, fake_project: Path) -> None:
    test_c = fake_tree / "lib/kunit/test.c"
    test_c.parent.mkdir(parents=True)
    newer = "\t\t\t\tkunit_print_ok_not_ok(&test, KUNIT_LEVEL_CASE_PARAM,\n"
    test_c.write_text(newer)
    assert not kunit_report.needed(fake_tree)
    assert len(link(fake_tree, fake_project)) == 3
    assert test_c.read_text() == newer
    assert link_state(fake_tree, fake_project) is LinkState.LINKED
