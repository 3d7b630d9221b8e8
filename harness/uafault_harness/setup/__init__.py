"""Setting the machine up: Debian packages, the kernel source, linking the project in, doctor."""
