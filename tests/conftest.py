"""Shared fixtures. No test may touch the network: downloads are switched off and the cache is a temporary folder."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _offline_and_isolated_cache(tmp_path_factory, monkeypatch):
    """Every test runs offline with an empty private cache, so results never depend on the developer's machine."""
    monkeypatch.setenv("GEOEMBED_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("GEOEMBED_CACHE_DIR", str(tmp_path_factory.mktemp("geoembed-cache")))
