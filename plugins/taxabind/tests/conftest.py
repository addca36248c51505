"""The TaxaBind plugin's tests run offline with a private, empty geoembed cache, like geoembed's own tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _offline_and_isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GEOEMBED_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("GEOEMBED_CACHE_DIR", str(tmp_path_factory.mktemp("geoembed-cache")))
