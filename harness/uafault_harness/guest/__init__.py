"""The QEMU guest: its kernel build, initramfs, QEMU, the console, the agent protocol, one boot."""
