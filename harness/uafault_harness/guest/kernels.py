"""The guest kernels: which build a boot uses (plain or KASAN) and how it
boots (the DMA mapping uafault's device gets).  One table; campaigns,
repro configs, `guest --kernel` and the agent's `--dma` proof read it."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.agent_header import agent_strings
from ..core.errors import ExitCode, HarnessError
from .qemu import GUEST_MIB

# Every KASAN report reaches its case: the first one panics the guest, the
# case in flight is charged with it, and a campaign boots again for the
# rest of its batch.  By default KASAN prints only a boot's first report,
# blinding the rest of the batch; kasan_multi_shot printed every one, but
# a target that overreads byte by byte (a double fetch that trusted a
# flipped length) printed thousands for one call.
KASAN_APPEND = "kasan.fault=panic"
# A heap overflow is a report on every kernel, not only under KASAN: the
# builds without it boot with SLUB's debugging on every cache (sanity
# checks, red zones, poisoning, and the owner of each object, which also
# makes SLUB check the slack a kmalloc() rounds up to, past the size asked
# for).  A red zone overwritten is found when the object is freed, in the
# call that overran it, and reported ("BUG kmalloc-64 (...): ...").
SLAB_DEBUG_APPEND = "slub_debug=FZPU"
# KASAN's shadow and reserves take 170 MiB of the RAM: 1 GiB leaves THP
# its 512 MiB.
KASAN_MIB = 1024
# The agent's --dma: what it can prove before the first case.
DMA_MODES: tuple[str, ...] = agent_strings("DMA_MODES")


@dataclass(frozen=True)
class BootKernel:
    name: str
    # Which build: configs/guest.config, plus configs/guest-kasan.config.
    kasan: bool
    # How uafault's DMA device maps buffers (one of DMA_MODES).
    dma: str
    # Kernel parameters of this kernel's own.
    append: str = ""
    # More QEMU arguments (devices).
    qemu_args: tuple[str, ...] = ()
    # The virtio-blk disk's DMA goes through the DMA API (and the IOMMU):
    # VIRTIO_F_ACCESS_PLATFORM, which needs a modern-only device.
    disk_platform: bool = False
    about: str = ""
    # RAM: GUEST_MIB (the smallest THP still works in) unless it needs more.
    memory_mib: int = GUEST_MIB


BOOT_KERNELS: tuple[BootKernel, ...] = (
    BootKernel("plain", False, "direct", SLAB_DEBUG_APPEND, about="dma-direct, slab red zones"),
    BootKernel("kasan", True, "direct", KASAN_APPEND, about="generic KASAN; a report panics the guest",
               memory_mib=KASAN_MIB),
    # Every streaming mapping of every device bounces: the device sees a
    # copy until the sync or unmap.
    BootKernel("swiotlb", False, "swiotlb", f"swiotlb=force {SLAB_DEBUG_APPEND}",
               about="every streaming DMA mapping bounced"),
    # QEMU's virtio-iommu translates every PCI device's DMA (ACPI VIOT);
    # strict: an unmap invalidates at once, so a late access faults.
    BootKernel("iommu", False, "iommu", f"iommu.strict=1 {SLAB_DEBUG_APPEND}", ("-device", "virtio-iommu-pci"),
               disk_platform=True,
               about="DMA translated by virtio-iommu, strict invalidation"),
)
KERNELS: tuple[str, ...] = tuple(k.name for k in BOOT_KERNELS)
DEFAULT_KERNEL = "plain"


def boot_kernel(name: str) -> BootKernel:
    for kernel in BOOT_KERNELS:
        if kernel.name == name:
            return kernel
    raise HarnessError(ExitCode.USAGE, f"no guest kernel {name!r} (kernels: {', '.join(KERNELS)})")
