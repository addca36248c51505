"""Shared fixtures. No test may touch the network: downloads are switched off and the cache is a temporary folder."""

from __future__ import annotations

import os


def pytest_configure(config):
    """``GEOEMBED_TEST_THREADS=N`` (set by scripts/test_matrix.sh) pins torch's intra-op threads for the whole run."""
    threads = os.environ.get("GEOEMBED_TEST_THREADS")
    if threads:
        import torch

        torch.set_num_threads(int(threads))


from geoembed.testing import offline_and_isolated_cache  # noqa: E402,F401  (autouse: every test offline, empty cache)
