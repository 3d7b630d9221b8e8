"""A prebuilt distribution kernel as the guest (guest/image.py) and the
`image` layer's judgement of its run."""

from __future__ import annotations

from pathlib import Path

import pytest

from uafault_harness.core.errors import HarnessError
from uafault_harness.core.paths import KernelSource, parse_kernel_source, resolve_layout
from uafault_harness.setup.image import Image, boot_modules, config_options
from uafault_harness.testsuite.image_layer import _guest_checks


def test_kernel_sources_parse_and_choose_a_tree(tmp_path: Path) -> None:
    assert parse_kernel_source("debian") == KernelSource("debian", "6.12")
    assert parse_kernel_source("image:6.1.0-57") == KernelSource("image", "6.1.0-57")
    for bad in ("image:6.1", "debian:six", "ksrc:x", "gentoo"):
        with pytest.raises(HarnessError):
            parse_kernel_source(bad)
    env = {"UAFAULT_CACHE": str(tmp_path)}
    old = resolve_layout({**env, "UAFAULT_KERNEL_SOURCE": "debian:6.1"})
    assert old.tree == tmp_path / "linux-source-6.1" and old.source_tarball.name == "linux-source-6.1.tar.xz"
    assert old.guest_build_dir(False).name == "linux-source-6.1-guest-x86_64"
    # An image keeps the default tree (UML, kunit.py's parser) and its build dirs.
    image = resolve_layout({**env, "UAFAULT_KERNEL_SOURCE": "image"})
    assert image.tree == tmp_path / "linux-source-6.12" and image.guest_build_dir(False).name == "guest-x86_64"
    with pytest.raises(HarnessError):
        resolve_layout({**env, "UAFAULT_KERNEL_SOURCE": "ksrc"})


def _image(tmp_path: Path) -> Image:
    image = Image("6.1.0-9", "6.1.0-9-amd64", "6.1.1-1", tmp_path / "root")
    image.modules.mkdir(parents=True)
    (image.modules / "modules.dep").write_text(
        "kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko\n"
        "kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n"
        "kernel/drivers/virtio/virtio_ring.ko:\n"
        "kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n"
        "kernel/fs/fuse/fuse.ko:\n")
    return image


def test_boot_modules_come_after_what_they_need_each_once(tmp_path: Path) -> None:
    order = [name for _, name in boot_modules(_image(tmp_path), ("virtio_pci", "virtio_blk", "zram", "fuse"))]
    assert order == ["virtio_ring", "virtio", "virtio_pci", "virtio_blk", "fuse"]


def test_config_options(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x\"\n")
    assert config_options(config) == {"CONFIG_A": "y", "CONFIG_C": '"x"'}


def _summary(tmp_path: Path, **over: object) -> dict[str, object]:
    config = tmp_path / "config"
    config.write_text("# CONFIG_KUNIT is not set\n# CONFIG_FAULT_INJECTION is not set\n")
    details = {"kernel_release": "Debian linux-image-6.1.0-57-amd64 6.1.192-3", "kernel_config": str(config),
               "unavailable": ["paths iommufd: needs CONFIG_IOMMUFD_TEST (x)", "paths gup: needs CONFIG_GUP_TEST (x)"],
               "kunit": "the KUnit suites are not available: CONFIG_KUNIT is off"}
    details.update(over)
    return {"exit_code": 0, "counts": {"failed": 0, "crashed": 0, "xfail": 2}, "details": details}


KTAP = "    ok 14 fail_nth # SKIP CONFIG_FAULT_INJECTION\n    ok 14 fail_nth # SKIP CONFIG_FAULT_INJECTION\n"


def test_the_image_layer_wants_every_missing_feature_named(tmp_path: Path) -> None:
    assert all(_guest_checks(_summary(tmp_path), KTAP).values())
    # A fail_nth case that ran, or passed, on a kernel without fault injection.
    assert not all(_guest_checks(_summary(tmp_path), KTAP + "    ok 15 fail_nth\n").values())
    # --kunit quietly doing nothing.
    assert not all(_guest_checks(_summary(tmp_path, kunit=""), KTAP).values())
    # A path left out without its option.
    assert not all(_guest_checks(_summary(tmp_path, unavailable=["path dio_read_brd: unavailable (x)"]),
                                 KTAP).values())
    # A kernel that is not the image.
    assert not all(_guest_checks(_summary(tmp_path, kernel_release="Debian linux-source-6.12"), KTAP).values())


def test_campaigns_and_repro_configs_name_their_kernel_source(tmp_path: Path) -> None:
    from uafault_harness.campaign.spec import SpecError, load_campaign
    from uafault_harness.triage.repro import load_repro

    campaign = tmp_path / "c.toml"
    campaign.write_text('[campaign]\nname = "c"\nkernels = ["plain"]\ntargets = ["x"]\nfaults = ["none"]\nkernel_source = "image"\n')
    assert load_campaign(campaign, None).kernel_source == KernelSource("image", "")
    campaign.write_text('[campaign]\nname = "c"\nkernels = ["plain"]\ntargets = ["x"]\nfaults = ["none"]\n\nkernel_source = "image:6"\n')
    with pytest.raises(SpecError) as err:
        load_campaign(campaign, None)
    assert str(err.value).startswith(f"{campaign}:7: kernel_source: ")
    repro = tmp_path / "r.toml"
    repro.write_text('[repro]\ntarget = "x"\nfault = "none"\nexpect = "FAIL"\nkernel_source = "debian:6.1"\n')
    assert load_repro(repro).kernel_source == KernelSource("debian", "6.1")
    again = tmp_path / "again.toml"
    again.write_text(load_repro(repro).to_toml())
    assert 'kernel_source = "debian:6.1"' in again.read_text()
    assert load_repro(again).kernel_source == KernelSource("debian", "6.1")
