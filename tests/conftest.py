"""Shared fixtures. No test may touch the network: downloads are switched off and the cache is a temporary folder."""

from __future__ import annotations

import os

import pytest


def pytest_configure(config):
    """``GEOEMBED_TEST_THREADS=N`` (set by scripts/test_matrix.sh) pins torch's intra-op threads for the whole run."""
    threads = os.environ.get("GEOEMBED_TEST_THREADS")
    if threads:
        import torch

        torch.set_num_threads(int(threads))


@pytest.fixture(autouse=True)
def _offline_and_isolated_cache(tmp_path_factory, monkeypatch):
    """Every test runs offline with an empty private cache, so results never depend on the developer's machine."""
    monkeypatch.setenv("GEOEMBED_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("GEOEMBED_CACHE_DIR", str(tmp_path_factory.mktemp("geoembed-cache")))
