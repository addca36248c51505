"""WeightsRecord.hf_revision (pinned Hub downloads) and sha256=None (checksum not published by the source)."""

from __future__ import annotations

import sys
import types

import pytest

from geoembed.errors import ChecksumMismatchError, WeightsNotFoundError
from geoembed.weights import WeightsRecord, cached_weights_path, resolve_weights, sha256_file


def _record(sha256):
    return WeightsRecord(name="toy.hub", filename="toy.bin", sha256=sha256, source="test", license="MIT",
                         citation="none", hf_hub=("someone/toy", "toy.bin"), hf_revision="0123abcd" * 5)


@pytest.fixture
def fake_hub(tmp_path, monkeypatch):
    """A stand-in huggingface_hub whose hf_hub_download serves a local file and records its arguments."""
    served = tmp_path / "served.bin"
    served.write_bytes(b"published weights")
    calls = []

    def hf_hub_download(repo_id, filename, revision=None):
        calls.append((repo_id, filename, revision))
        return str(served)

    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(hf_hub_download=hf_hub_download))
    monkeypatch.setattr("geoembed.image_backbones.hub.probe", lambda url, timeout=None: None)  # the Hub "answers"
    monkeypatch.setenv("GEOEMBED_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("GEOEMBED_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return served, calls


def test_download_passes_the_pinned_revision(fake_hub):
    served, calls = fake_hub
    resolved = resolve_weights(_record(sha256_file(served)))
    assert calls == [("someone/toy", "toy.bin", "0123abcd" * 5)]
    assert resolved.origin == "download" and resolved.record.sha256 == sha256_file(served)


def test_unpublished_sha256_is_computed_recorded_warned_and_checked_later(fake_hub):
    served, _ = fake_hub
    record = _record(None)
    with pytest.warns(UserWarning, match="gives no sha256"):
        resolved = resolve_weights(record)
    digest = sha256_file(served)
    assert resolved.record.sha256 == digest  # described by the real hash, never an invented one
    sidecar = cached_weights_path(record).with_name("toy.bin.sha256")
    assert sidecar.read_text().split()[0] == digest
    again = resolve_weights(record)  # from the cache now, checked against the recorded value
    assert again.origin == "cache" and again.record.sha256 == digest
    cached_weights_path(record).write_bytes(b"tampered")
    with pytest.raises(ChecksumMismatchError, match="changed since it was downloaded"):
        resolve_weights(record)


def test_offline_message_gives_the_hub_command(tmp_path, monkeypatch):
    monkeypatch.setenv("GEOEMBED_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("GEOEMBED_OFFLINE", "1")
    with pytest.raises(WeightsNotFoundError) as info:
        resolve_weights(_record(None))
    message = str(info.value)
    assert f"hf download someone/toy toy.bin --revision {'0123abcd' * 5}" in message
    assert "sha256 not published" in message and "--weights" in message and "weights_path=" in message


def test_sha256_is_still_validated_when_given():
    with pytest.raises(ValueError, match="64 lowercase hex"):
        _record("abc")
