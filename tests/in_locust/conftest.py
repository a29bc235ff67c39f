"""Runs only in the child pytest started by tests/loadgen/test_in_locust.py: patch first, as Locust does."""

from gevent import monkey

monkey.patch_all()
