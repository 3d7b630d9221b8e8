"""The KUnit layers: kunit.py per architecture, and KTAP read with the tree's own kunit_parser."""
