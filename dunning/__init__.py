"""Temporal plumbing shared by the worker, the ingress and the tests: settings, client, visibility."""
