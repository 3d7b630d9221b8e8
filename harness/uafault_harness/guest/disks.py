"""A boot's disks, made in one call: the virtio-blk scratch disk (the
agent's dio_*_virtio_blk paths), the ext4 memory kinds' file system, the
--coverage disk and the job disk (the agent's arguments, modules, files
and programs; guest/initramfs.py).  Each is a sparse file in the boot's
output directory, made anew for the boot and removed after it (the
coverage disk only once read, the job disk by whoever keeps the boot)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import ExitCode, HarnessError
from ..core.fsutil import sparse_file, sparse_files
from .initramfs import JOB_NAME, JobSpec, blank_job, build_job

# The guest's virtio-blk disk (/dev/vda: direct I/O that is DMA through
# virtio-pci): empty for each boot.
DISK_NAME = "disk.img"
DISK_BYTES = 8 << 20
# The ext4 memory kinds' file system: a second virtio-blk disk, formatted
# for each boot.
EXT4_NAME = "ext4.img"
EXT4_BYTES = 32 << 20
# --coverage's disk (guest/coverage.py reads it).  Sparse: a case writes
# the objects it ran, tens to hundreds of KB, and a boot runs a batch of
# cases (the agent stops writing, and says so, when it is full).
COVERAGE_NAME = "coverage.img"
COVERAGE_BYTES = 256 << 20


def scratch_disk(out_dir: Path) -> Path:
    """An empty DISK_BYTES disk image in out_dir (sparse: no blocks yet)."""
    return sparse_file(out_dir / DISK_NAME, DISK_BYTES)


def ext4_disk(out_dir: Path, mkfs: Path) -> Path:
    """An empty ext4 file system of EXT4_BYTES in out_dir (sparse)."""
    return _mkfs(sparse_file(out_dir / EXT4_NAME, EXT4_BYTES), mkfs)


def _mkfs(image: Path, mkfs: Path) -> Path:
    done = subprocess.run([str(mkfs), "-q", "-F", "-E", "nodiscard", str(image)], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise OSError(f"{mkfs} {image}: {done.stderr.strip() or done.returncode}")
    return image


def coverage_disk(out_dir: Path) -> Path:
    return sparse_file(out_dir / COVERAGE_NAME, COVERAGE_BYTES)


@dataclass(frozen=True)
class BootDisks:
    """The files a boot's QEMU command names besides the kernel."""
    disk: Path
    ext4: Path
    job: Path
    coverage: Path

    def remove(self, keep_coverage: bool) -> None:
        """After the boot: the scratch disks; the coverage disk unless the
        caller reads it.  The job disk stays for the caller to judge."""
        self.disk.unlink(missing_ok=True)
        self.ext4.unlink(missing_ok=True)
        if not keep_coverage:
            self.coverage.unlink(missing_ok=True)


# The disks as a saved guest's key names them (guest/snapshot.py).
PLACEHOLDERS = BootDisks(Path("@disk"), Path("@ext4"), Path("@job"), Path("@coverage"))


def blank_disks(directory: Path) -> BootDisks:
    """Disks of every boot's sizes with nothing on them (a snapshot's boot)."""
    disk, ext4, coverage = _blanks(directory)
    return BootDisks(disk, ext4, blank_job(directory / JOB_NAME), coverage)


def _blanks(directory: Path) -> tuple[Path, ...]:
    return sparse_files((directory / DISK_NAME, DISK_BYTES), (directory / EXT4_NAME, EXT4_BYTES),
                        (directory / COVERAGE_NAME, COVERAGE_BYTES))


def boot_disks(out_dir: Path, mkfs: Path, job: JobSpec, present: frozenset[str], cpio: str) -> BootDisks:
    """Every disk of one boot, in out_dir: the job disk (present: what the
    base archive already holds), the scratch disk, a fresh ext4 and the
    coverage disk (every boot has one, sparse until written, so --coverage
    is the same command line, the same snapshot)."""
    job_disk = build_job(job, out_dir / JOB_NAME, present, cpio)
    disk, ext4, coverage = _blanks(out_dir)
    try:
        _mkfs(ext4, mkfs)
    except OSError as exc:
        coverage.unlink(missing_ok=True)  # as when it was made after the ext4
        raise HarnessError(ExitCode.MISSING_PREREQ, f"cannot make the ext4 disk: {exc}") from exc
    return BootDisks(disk, ext4, job_disk, coverage)
