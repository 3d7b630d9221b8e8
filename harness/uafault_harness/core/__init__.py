"""Shared by every part: errors and exit codes, paths, atomic files, processes, run directories."""
