"""Host-side harness for uafault: fetch/link a kernel tree, run the KUnit
suites through the tree's own kunit.py, store and summarise results."""
