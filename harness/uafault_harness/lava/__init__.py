"""Campaigns on a LAVA lab: the lab (server.py), its REST API (api.py),
job definitions (jobs.py), submit and collect (run.py)."""
