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


from geoembed.testing import offline_and_isolated_cache  # noqa: E402,F401  (autouse: every test offline, empty cache)


@pytest.fixture
def registered():
    """``register(name, data, target, kind, **fields)``: a benchmark task under a throwaway name, removed afterwards."""
    from geoembed.downstream.tasks import Task, register_task
    from geoembed.registry import tasks as task_registry

    names: list[str] = []

    def register(name, data=None, target=None, kind=None, *, overwrite=False, **fields):
        names.append(name)
        task = data if isinstance(data, Task) else Task(name=name, data=data, target=target, kind=kind, **fields)
        return register_task(name, task, overwrite=overwrite)

    yield register
    for name in names:
        if name in task_registry._runtime:
            task_registry.unregister(name)
