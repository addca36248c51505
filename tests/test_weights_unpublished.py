"""WeightsRecord fields for Hub files: a pinned ``hf_revision``, and ``sha256=None`` where the publisher gives none."""

from __future__ import annotations

import dataclasses

import pytest

from geoembed.errors import WeightsNotFoundError
from geoembed.weights import WeightsRecord, cached_weights_path, resolve_weights, sha256_file

RECORD = WeightsRecord(
    name="toy.release", filename="toy.safetensors", sha256=None, source="test", license="MIT", citation="-",
    hf_hub=("someone/toy", "toy.safetensors"), hf_revision="0123abc",
)


def test_a_record_may_lack_a_sha256_but_never_carries_a_malformed_one():
    assert RECORD.sha256 is None and RECORD.sha256_published is False
    with pytest.raises(ValueError, match="64 lowercase hex"):
        dataclasses.replace(RECORD, sha256="abc")
    assert dataclasses.replace(RECORD, sha256="0" * 64, sha256_published=True).sha256_published is True
    assert WeightsRecord(name="a.b", filename="f", sha256="0" * 64, source="s", license="l",
                         citation="c").sha256_published is True
    assert dataclasses.replace(RECORD, name="toy.other").sha256_published is False


def test_unpublished_checksum_is_measured_on_the_file_found(tmp_path):
    target = cached_weights_path(RECORD)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"some weights")
    resolved = resolve_weights(RECORD)
    assert resolved.origin == "cache"
    assert resolved.record.name == "toy.release"
    assert resolved.record.sha256 == sha256_file(target) and resolved.record.sha256_published is False

    own = tmp_path / "toy.safetensors"
    own.write_bytes(b"other weights")
    from_path = resolve_weights(RECORD, own).record
    assert from_path.name == "toy.release" and from_path.sha256 == sha256_file(own)


def test_offline_message_gives_the_hub_command_with_the_revision():
    with pytest.raises(WeightsNotFoundError) as info:
        resolve_weights(RECORD)
    message = str(info.value)
    assert "hf download someone/toy toy.safetensors --revision 0123abc" in message
    assert "sha256 not published" in message
    assert "weights_path=" in message and "--weights" in message


def test_download_asks_the_hub_for_the_recorded_revision(monkeypatch, tmp_path):
    import huggingface_hub

    source = tmp_path / "hub-file"
    source.write_bytes(b"hub weights")
    calls = []

    def fake_download(repo_id, filename, revision=None, **kwargs):
        calls.append((repo_id, filename, revision))
        return str(source)

    monkeypatch.delenv("GEOEMBED_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    monkeypatch.setattr("geoembed.image_backbones.hub.probe", lambda url, timeout=None: None)  # the Hub "answers"
    resolved = resolve_weights(RECORD)
    assert calls == [("someone/toy", "toy.safetensors", "0123abc")]
    assert resolved.origin == "download" and resolved.record.sha256 == sha256_file(source)
    assert cached_weights_path(RECORD).read_bytes() == b"hub weights"
