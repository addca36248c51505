"""Images in, features out: reading images of every kind, batched encoding, and resumable feature extraction.

- :func:`collect_images` turns what users pass (a file, a folder, a list of paths, PIL images, arrays, tensors) into
  a list of :class:`ImageItem`; :func:`read_image` opens one. Files that cannot be read are reported with a
  :class:`SkippedImageWarning` and skipped, never fatal.
- :func:`encode_images` embeds images in memory (optionally with Ten Crop or SimCLR-style augmented views).
- :func:`extract_features` does the same for data sets: features go to a memory-mapped ``.npy`` on disk, batch by
  batch, with a progress bar, and a run that was interrupted resumes where it stopped.
- :func:`read_exif_latlon` reads the GPS position a camera wrote into a photo.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from geoembed.atomic import atomic_write
from geoembed.errors import GeoembedError

#: Extensions read from folders (files named explicitly are tried whatever their extension).
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".heic", ".jfif"})

#: The view modes of :func:`encode_images` and :func:`extract_features`.
VIEWS = ("center", "ten_crop", "augment")

class SkippedImageWarning(UserWarning):
    """An input that is not a readable image was skipped (the message names it and says why)."""


@dataclass(frozen=True)
class ImageItem:
    """One input image: a display name (the path for files) and the source (a path, PIL image, array or tensor)."""

    name: str
    source: Any


@dataclass
class ImageFeatures:
    """Features of the images that could be read, in input order, and the ones that were skipped (with reasons).

    ``features`` is ``(N, D)``, or ``(N, V, D)`` with ``V`` views per image (Ten Crop: 10).
    """

    names: list[str]
    features: np.ndarray
    skipped: list[tuple[str, str]] = field(default_factory=list)


# -- inputs ------------------------------------------------------------------------------------------------------------
def collect_images(images: Any, *, recursive: bool = False) -> list[ImageItem]:
    """Expand ``images`` into a flat list of :class:`ImageItem` (nothing is decoded yet).

    Accepts a path to an image or to a folder (its image files, sorted; ``recursive=True`` descends into subfolders),
    a PIL image, a ``(H, W, C)``/``(C, H, W)`` array or tensor, a ``(N, C, H, W)`` batch, or a list mixing these.
    Paths that do not exist are reported and skipped.
    """
    items: list[ImageItem] = []
    for index, entry in enumerate(_as_entries(images)):
        if isinstance(entry, (str, os.PathLike)):
            path = Path(entry).expanduser()
            if path.is_dir():
                pattern = "**/*" if recursive else "*"
                files = sorted(p for p in path.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
                items.extend(ImageItem(str(p), p) for p in files)
            else:
                items.append(ImageItem(str(path), path))
        else:
            items.append(ImageItem(f"image[{index}]", entry))
    return items


def _as_entries(images: Any) -> list[Any]:
    from PIL import Image

    if isinstance(images, (str, os.PathLike, Image.Image)):
        return [images]
    if _is_array(images):
        return list(images) if images.ndim == 4 else [images]
    if isinstance(images, Iterable):
        return list(images)
    raise TypeError(
        f"images must be a path, a folder, a PIL image, an array/tensor or a list of these; got {type(images).__name__}."
    )


def _is_array(x: Any) -> bool:
    return isinstance(x, np.ndarray) or type(x).__module__.startswith("torch")


def read_image(item: ImageItem) -> Any:
    """The PIL image (upright, following the EXIF orientation) or array of ``item``; raises ``OSError``/``ValueError``."""
    from PIL import Image, ImageOps

    source = item.source
    if isinstance(source, Path):
        if not source.exists():
            raise FileNotFoundError("no such file")
        with Image.open(source) as image:
            image.load()
            return ImageOps.exif_transpose(image)
    return source


def read_exif_latlon(path: str | os.PathLike) -> tuple[float, float] | None:
    """The ``(lat, lon)`` in a photo's EXIF GPS tags, or None when it has none."""
    from PIL import ExifTags, Image

    with Image.open(path) as image:
        gps = image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    if not gps or 2 not in gps or 4 not in gps:
        return None

    def degrees(dms: Sequence[Any], ref: Any, negative: str) -> float:
        d, m, s = (float(v) for v in dms)
        value = d + m / 60 + s / 3600
        return -value if str(ref).strip().upper().startswith(negative) else value

    lat = degrees(gps[2], gps.get(1, "N"), "S")
    lon = degrees(gps[4], gps.get(3, "E"), "W")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


# -- backbones ---------------------------------------------------------------------------------------------------------
def get_image_backbone(backbone: Any = "geoclip", *, device: Any = None, **kwargs: Any):
    """A ready image backbone in eval mode on ``device``: a registered name (built once, cached) or an instance."""
    from geoembed.location_encoders.encode import resolve_device
    from geoembed.image_backbones.contract import ImageBackbone
    from geoembed.registry import image_backbones

    dev = resolve_device(device)
    if isinstance(backbone, ImageBackbone):
        if kwargs:
            raise TypeError(f"Options {sorted(kwargs)} only apply when the backbone is given by name.")
        return backbone.to(dev).eval()
    if not isinstance(backbone, str):
        raise TypeError(
            f"backbone must be a registered name (see geoembed.list_image_backbones()) or a geoembed.ImageBackbone, "
            f"got {type(backbone).__name__}."
        )
    return image_backbones.create_cached(backbone, expected_type=ImageBackbone, device=dev, **kwargs)


def clear_backbone_cache() -> None:
    """Forget backbones built by name (frees their memory)."""
    from geoembed.registry import image_backbones

    image_backbones.clear_cached()


# -- encoding ----------------------------------------------------------------------------------------------------------
def view_transform(backbone: Any, views: str):
    """The per-image transform of a view mode: one tensor ``(C, H, W)`` (center) or ``(V, C, H, W)``."""
    if views == "center":
        return backbone.preprocess
    if views == "ten_crop":
        return _pil_only(backbone.ten_crop(), "ten_crop")
    if views == "augment":
        return _pil_only(backbone.augment(), "augment")
    raise ValueError(f"views must be one of {VIEWS}, got {views!r}.")


def _pil_only(transform, name: str):
    from PIL import Image

    def apply(image: Any):
        if not isinstance(image, Image.Image):
            if not _is_array(image):
                raise ValueError(f"not an image ({type(image).__name__})")
            array = np.asarray(image.detach().cpu() if hasattr(image, "detach") else image)
            if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
                array = array.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C) for PIL
            if array.dtype != np.uint8:
                array = (np.clip(array, 0, 1) * 255).round().astype(np.uint8)
            image = Image.fromarray(array.squeeze())
        return transform(image.convert("RGB"))

    apply.__name__ = name
    return apply


def _n_views(views: str, n_augment: int) -> int:
    return {"center": 1, "ten_crop": 10, "augment": n_augment}[views]


def iter_feature_batches(
    items: Sequence[ImageItem],
    backbone: Any,
    *,
    batch_size: int = 32,
    views: str = "center",
    n_augment: int = 2,
    seed: int = 0,
    progress: bool = False,
    desc: str = "images",
    item_ids: Sequence[int] | None = None,
) -> Iterator[tuple[list[int], np.ndarray, list[tuple[int, str]]]]:
    """Yield ``(rows, features, skipped)`` per batch: the item indices encoded, their float32 features (``(B, D)``,
    or ``(B, V, D)`` for several views) and ``(index, reason)`` of items that could not be read.

    Augmented views are reproducible: each image's random views come from ``seed`` and its id (``item_ids``, by
    default its index), so a resumed extraction draws the same views as an uninterrupted one.
    """
    import torch

    from geoembed.progress import progress_bar

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    transform = view_transform(backbone, views)
    multi = views != "center"
    n_views = _n_views(views, n_augment)
    if views == "augment" and (isinstance(n_augment, bool) or not isinstance(n_augment, int) or n_augment < 1):
        raise ValueError(f"n_augment must be a positive integer, got {n_augment!r}.")
    bar = progress_bar(total=len(items), unit="img", desc=desc, enabled=progress)
    try:
        for start in range(0, len(items), batch_size):
            rows, tensors, skipped = [], [], []
            for index in range(start, min(start + batch_size, len(items))):
                try:
                    image = read_image(items[index])
                    if views == "augment":
                        with torch.random.fork_rng(devices=[]):
                            torch.manual_seed(seed * 1_000_003 + (item_ids[index] if item_ids else index))
                            tensor = torch.stack([transform(image) for _ in range(n_views)])
                    else:
                        tensor = transform(image)
                except Exception as exc:  # a corrupt file, a text file, a wrong-shaped array: report, go on
                    reason = f"{type(exc).__name__}: {exc}"
                    warnings.warn(f"Skipping {items[index].name}: {reason}", SkippedImageWarning, stacklevel=2)
                    skipped.append((index, reason))
                    continue
                rows.append(index)
                tensors.append(tensor)
            bar.update(min(batch_size, len(items) - start))
            if not rows:
                yield rows, np.empty((0, n_views, backbone.feature_dim) if multi else (0, backbone.feature_dim),
                                     np.float32), skipped
                continue
            batch = torch.stack(tensors)  # (B, C, H, W) or (B, V, C, H, W)
            flat = batch.reshape(-1, *batch.shape[-3:]).to(backbone.device)
            with torch.inference_mode():
                features = backbone.encode(flat).float().cpu().numpy()
            if not np.isfinite(features).all():
                raise FloatingPointError(
                    f"{type(backbone).__name__} produced non-finite features for images {items[rows[0]].name}..; its "
                    f"weights may be corrupt, or half precision overflowed (use precision='fp32')."
                )
            if multi:
                features = features.reshape(len(rows), n_views, -1)
            yield rows, features, skipped
    finally:
        bar.close()


def encode_images(
    images: Any,
    backbone: Any = "geoclip",
    *,
    batch_size: int = 32,
    views: str = "center",
    n_augment: int = 2,
    seed: int = 0,
    device: Any = None,
    progress: bool = False,
    **backbone_kwargs: Any,
) -> ImageFeatures:
    """Embed images in memory with an image backbone (GeoCLIP's image encoder by default).

    Args:
        images: see :func:`collect_images`.
        backbone: a registered image backbone name or an :class:`~geoembed.ImageBackbone`.
        views: ``"center"`` (the backbone's evaluation transform), ``"ten_crop"`` (10 views: corners, centre, mirrored)
            or ``"augment"`` (``n_augment`` SimCLR-style random views, reproducible from ``seed``).
        **backbone_kwargs: passed to the backbone's factory when it is given by name.
    """
    model = get_image_backbone(backbone, device=device, **backbone_kwargs)
    items = collect_images(images)
    names: list[str] = []
    chunks: list[np.ndarray] = []
    skipped: list[tuple[str, str]] = []
    for rows, features, bad in iter_feature_batches(items, model, batch_size=batch_size, views=views,
                                                    n_augment=n_augment, seed=seed, progress=progress):
        names.extend(items[r].name for r in rows)
        chunks.append(features)
        skipped.extend((items[i].name, reason) for i, reason in bad)
    n_views = _n_views(views, n_augment)
    empty_shape = (0, model.feature_dim) if views == "center" else (0, n_views, model.feature_dim)
    features = np.concatenate(chunks) if chunks else np.empty(empty_shape, np.float32)
    return ImageFeatures(names, features, skipped)


# -- data sets on disk -------------------------------------------------------------------------------------------------
FEATURES_FILE = "features.npy"
INDEX_FILE = "index.csv"
STATUS_FILE = "status.npy"
SKIPPED_FILE = "skipped.jsonl"
META_FILE = "meta.json"
PENDING, DONE, SKIPPED = 0, 1, 2


@dataclass
class FeatureStore:
    """A folder written by :func:`extract_features`.

    ``features`` is a read-only memory map ``(N, D)`` or ``(N, V, D)`` in the order of ``index`` (a DataFrame with
    columns ``image`` and ``status``: ``"done"`` or ``"skipped"``); rows of skipped images hold zeros.
    """

    folder: Path
    features: np.ndarray
    index: Any
    meta: dict

    @classmethod
    def open(cls, folder: str | os.PathLike) -> "FeatureStore":
        import pandas as pd

        folder = Path(folder)
        meta_path = folder / META_FILE
        if not meta_path.is_file():
            raise GeoembedError(f"{folder} is not a feature folder written by geoembed.extract_features (no {META_FILE}).")
        meta = json.loads(meta_path.read_text())
        index = pd.read_csv(folder / INDEX_FILE, keep_default_na=False)
        status = np.load(folder / STATUS_FILE)
        index["status"] = np.where(status == DONE, "done", np.where(status == SKIPPED, "skipped", "pending"))
        return cls(folder, np.load(folder / FEATURES_FILE, mmap_mode="r"), index, meta)

    @property
    def complete(self) -> bool:
        return bool(self.meta.get("complete"))


def extract_features(
    images: Any,
    out_dir: str | os.PathLike,
    backbone: Any = "geoclip",
    *,
    batch_size: int = 32,
    views: str = "center",
    n_augment: int = 2,
    seed: int = 0,
    dtype: str = "float32",
    device: Any = None,
    progress: bool = True,
    recursive: bool = False,
    resume: bool = True,
    **backbone_kwargs: Any,
) -> FeatureStore:
    """Embed a data set of images into ``out_dir`` (memory-mapped ``features.npy`` + ``index.csv``), resumably.

    Each batch is written and flushed as soon as it is computed, and its rows are marked done in ``status.npy``;
    running the same call again after an interruption encodes only the rows still pending. A folder written with a
    different backbone, image list or view mode is refused rather than mixed (pass ``resume=False`` to start over).

    Files: ``features.npy`` (``(N, D)`` or ``(N, V, D)``, ``dtype``), ``index.csv`` (row order: column ``image``),
    ``status.npy`` (0 pending, 1 done, 2 skipped), ``skipped.jsonl`` (why), ``meta.json`` (backbone identity, views,
    shape; ``complete`` once every row is done or skipped).
    """
    import pandas as pd

    if dtype not in ("float32", "float16"):
        raise ValueError(f"dtype must be 'float32' or 'float16', got {dtype!r}.")
    if views not in VIEWS:
        raise ValueError(f"views must be one of {VIEWS}, got {views!r}.")
    model = get_image_backbone(backbone, device=device, **backbone_kwargs)
    items = collect_images(images, recursive=recursive)
    if not items:
        raise GeoembedError(f"No images found in {images!r} (folders are searched for {sorted(IMAGE_EXTENSIONS)}).")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_views = _n_views(views, n_augment)
    shape = [len(items), model.feature_dim] if views == "center" else [len(items), n_views, model.feature_dim]
    meta = {
        "backbone": model.identity,
        "views": views,
        "n_augment": n_augment if views == "augment" else None,
        "seed": seed if views == "augment" else None,
        "shape": shape,
        "dtype": dtype,
        "images_sha256": _names_sha256(items),
        "complete": False,
    }
    features_path, status_path = out / FEATURES_FILE, out / STATUS_FILE
    previous = _read_meta(out)
    if previous is not None and resume:
        mismatched = [k for k in meta if k != "complete" and previous.get(k) != meta[k]]
        if mismatched:
            raise GeoembedError(
                f"{out} already holds features made with a different {', '.join(mismatched)}. Use another out_dir, or "
                f"pass resume=False to overwrite it."
            )
        features = np.load(features_path, mmap_mode="r+")
        status = np.load(status_path, mmap_mode="r+")
    else:
        with atomic_write(out / INDEX_FILE) as tmp:
            pd.DataFrame({"image": [item.name for item in items]}).rename_axis("row").to_csv(tmp)
        with atomic_write(out / META_FILE) as tmp:
            tmp.write_text(json.dumps(meta, indent=2))
        features = np.lib.format.open_memmap(features_path, mode="w+", dtype=dtype, shape=tuple(shape))
        status = np.lib.format.open_memmap(status_path, mode="w+", dtype=np.int8, shape=(len(items),))
        (out / SKIPPED_FILE).unlink(missing_ok=True)

    pending = [i for i in range(len(items)) if status[i] == PENDING]
    todo = [items[i] for i in pending]
    from geoembed.atomic import open_for_append

    with open_for_append(out / SKIPPED_FILE) as skipped_log:  # a symlink planted there is refused
        for rows, batch_features, bad in iter_feature_batches(
            todo, model, batch_size=batch_size, views=views, n_augment=n_augment, seed=seed, progress=progress,
            desc="extracting features", item_ids=pending,
        ):
            rows_full = [pending[r] for r in rows]
            if rows_full:
                features[rows_full] = batch_features.astype(dtype)
                features.flush()  # features first, then the status that says they are there
                status[rows_full] = DONE
            for r, reason in bad:
                skipped_log.write(json.dumps({"row": pending[r], "image": todo[r].name, "reason": reason}) + "\n")
                status[pending[r]] = SKIPPED
            skipped_log.flush()
            status.flush()
    del features, status
    meta["complete"] = True
    with atomic_write(out / META_FILE) as tmp:
        tmp.write_text(json.dumps(meta, indent=2))
    return FeatureStore.open(out)


def _read_meta(folder: Path) -> dict | None:
    path = folder / META_FILE
    needed = (path, folder / FEATURES_FILE, folder / STATUS_FILE, folder / INDEX_FILE)
    return json.loads(path.read_text()) if all(p.is_file() for p in needed) else None


def _names_sha256(items: Sequence[ImageItem]) -> str:
    import hashlib

    digest = hashlib.sha256()
    for item in items:
        digest.update(item.name.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()
