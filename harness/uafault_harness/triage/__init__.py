"""From a failure to a fix: repro configs, minimisation and the C reproducer."""
