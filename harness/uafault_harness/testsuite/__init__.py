"""The layers of `uafault test` and their summaries."""
