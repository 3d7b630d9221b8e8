"""Campaigns: the file and its plan, the runner, the store of verdicts and what they mean."""
