"""Mutation scoring: the KUnit suites measured against edits of the real
kernel code they cover (configs/mutants.toml)."""
