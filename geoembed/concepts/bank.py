"""``ConceptBank``: human-readable concepts with one vector each in a named embedding space.

A bank is what makes an embedding interpretable: concept names ("tropical climate", "left-hand traffic"), a category
path for each (``natural/climate``, ``human/transport``), a ``(K, D)`` float32 matrix, the name of the *space* the
vectors live in (which encoder made them), and provenance. Two kinds of vectors exist, told apart by ``scoring``:

- ``"cosine"``: directions in a shared space (text embeddings, concept prototypes); a place or image scores a concept
  by cosine similarity, in [-1, 1].
- ``"linear"``: linear probes (concept activation vectors fitted on labelled places, see
  :mod:`geoembed.concepts.geodata`); the score is the probe's probability that the concept applies, in [0, 1]:
  ``sigmoid(normalize(x) @ w + b)``, with the intercepts ``b`` in ``bias``.

On disk a bank is a folder holding ``embeddings.safetensors`` (the matrix, and ``bias`` for linear banks) and
``concepts.json`` (everything else, plus the matrix's sha256 so a mismatched pair is caught).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import torch

from geoembed.atomic import atomic_write
from geoembed.errors import ConceptBankError, DataFileError

FORMAT_VERSION = 2  # 2: concepts.json carries metadata_sha256, a checksum of all its other fields
JSON_NAME = "concepts.json"
TENSORS_NAME = "embeddings.safetensors"
SCORINGS = ("cosine", "linear")


class ConceptBank:
    """Concept names, categories and a ``(K, D)`` float32 matrix in the embedding space ``space``.

    Build one with :meth:`from_texts`, :meth:`from_file`, :meth:`from_array` or :meth:`from_geodata`; load a
    registered one with :func:`geoembed.create_concept_bank`, a saved one with :meth:`ConceptBank.load`.

    Attributes:
        names: the concepts, unique and non-empty.
        categories: a category path per concept, e.g. ``"natural/vegetation"`` (``"uncategorized"`` if none given).
        descriptions: an optional longer text per concept ("" when none).
        embeddings: ``(K, D)`` float32 tensor on the CPU.
        space: the embedding space, e.g. ``"text:minilm/all-MiniLM-L6-v2"`` or ``"location:geoclip.mp16"``.
        scoring: ``"cosine"`` or ``"linear"`` (see the module docstring).
        bias: ``(K,)`` float32 intercepts of a linear bank, else None.
        provenance: free-form JSON-serialisable record of how the bank was made (source, encoder, licence...).
    """

    def __init__(
        self,
        names: Sequence[str],
        embeddings: Any,
        *,
        space: str,
        categories: Sequence[str] | None = None,
        descriptions: Sequence[str] | None = None,
        scoring: str = "cosine",
        bias: Any = None,
        provenance: Mapping[str, Any] | None = None,
    ):
        self.names = _check_names(names)
        count = len(self.names)
        self.embeddings = _as_matrix(embeddings, count)
        self.categories = _check_strings(categories, count, "categories", default="uncategorized")
        for name, category in zip(self.names, self.categories):
            if category.startswith("/") or category.endswith("/") or "//" in category:
                raise ConceptBankError(
                    f"Concept {name!r} has the malformed category path {category!r}: use segments joined by '/', "
                    f"e.g. 'natural/vegetation'."
                )
        self.descriptions = _check_strings(descriptions, count, "descriptions", default="", allow_empty=True)
        if not isinstance(space, str) or not space.strip():
            raise ConceptBankError("A concept bank needs a non-empty `space`: the name of the encoder that made it.")
        self.space = space
        if scoring not in SCORINGS:
            raise ConceptBankError(f"scoring must be one of {SCORINGS}, got {scoring!r}.")
        self.scoring = scoring
        self.bias = _check_bias(bias, scoring, count)
        self.provenance = _check_provenance(provenance)
        self._index = {name: i for i, name in enumerate(self.names)}

    # -- basic properties ----------------------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Width D of the concept vectors."""
        return int(self.embeddings.shape[1])

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __repr__(self) -> str:
        top = sorted({c.split("/")[0] for c in self.categories})
        return (
            f"ConceptBank({len(self)} concepts, dim={self.dim}, space={self.space!r}, scoring={self.scoring!r}, "
            f"categories={top})"
        )

    def index(self, name: str) -> int:
        """Row of concept ``name``; unknown names raise with close matches."""
        try:
            return self._index[name]
        except KeyError:
            import difflib

            close = difflib.get_close_matches(str(name), self.names, n=3, cutoff=0.5)
            close += [n for n in self.names if str(name).lower() in n.lower() and n not in close][: 3 - len(close)]
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise KeyError(f"No concept {name!r} in this bank of {len(self)} concepts.{hint}") from None

    def to_frame(self):
        """The concepts as a pandas DataFrame (``concept``, ``category``, ``description``)."""
        import pandas as pd

        return pd.DataFrame({"concept": self.names, "category": self.categories, "description": self.descriptions})

    def select(self, category: str | None = None, names: Iterable[str] | None = None) -> "ConceptBank":
        """A new bank with the concepts under a category path prefix (``"natural"``) and/or the named ones."""
        keep = list(range(len(self)))
        if category is not None:
            prefix = category.rstrip("/")
            keep = [i for i in keep if self.categories[i] == prefix or self.categories[i].startswith(prefix + "/")]
            if not keep:
                known = sorted(set(self.categories))
                raise ConceptBankError(f"No concept has the category {category!r}; categories: {known}.")
        if names is not None:
            wanted = {self.index(n) for n in names}
            keep = [i for i in keep if i in wanted]
        return ConceptBank(
            [self.names[i] for i in keep],
            self.embeddings[keep],
            space=self.space,
            categories=[self.categories[i] for i in keep],
            descriptions=[self.descriptions[i] for i in keep],
            scoring=self.scoring,
            bias=None if self.bias is None else self.bias[keep],
            provenance={**self.provenance, "selected_from": {"category": category, "count": len(self)}},
        )

    # -- scoring ---------------------------------------------------------------------------------------------------
    def check_compatible(self, dim: int, space: str | None = None, *, what: str = "the embeddings",
                         hint: str = "") -> None:
        """Raise :class:`ConceptBankError` unless vectors of width ``dim`` (from ``space``) can be scored."""
        if space is not None and space != self.space:
            raise ConceptBankError(
                f"This concept bank lives in the space {self.space!r}, but {what} come from {space!r}. Scores across "
                f"two different embedding spaces mean nothing, even when the widths happen to match: a text bank "
                f"cannot score location embeddings until a model maps both into one space. Use a bank built in "
                f"{space!r} (e.g. ConceptBank.from_geodata(..., encoder=...) for a location encoder).{hint}"
            )
        if int(dim) != self.dim:
            raise ConceptBankError(
                f"Dimension mismatch: {what} have {dim} values per row but this bank's concept vectors have "
                f"{self.dim} (space {self.space!r}). Encode with the encoder that made the bank."
            )

    def score(self, embeddings: Any, *, space: str | None = None) -> np.ndarray:
        """Score ``(N, D)`` embeddings against every concept: ``(N, K)`` float32 (see ``scoring``).

        Pass ``space`` (the embeddings' space name) to have it checked against the bank's.
        """
        x = torch.as_tensor(np.asarray(embeddings, dtype=np.float32) if not torch.is_tensor(embeddings) else embeddings)
        x = x.detach().to("cpu", torch.float32)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2:
            raise ConceptBankError(f"embeddings must be (N, D), got shape {tuple(x.shape)}.")
        self.check_compatible(x.shape[1], space)
        if not torch.isfinite(x).all():
            raise ConceptBankError("embeddings contain NaN or infinite values; they cannot be scored.")
        x = torch.nn.functional.normalize(x, dim=1)
        if self.scoring == "cosine":
            scores = x @ torch.nn.functional.normalize(self.embeddings, dim=1).T
        else:
            assert self.bias is not None
            scores = torch.sigmoid(x @ self.embeddings.T + self.bias)
        return scores.numpy()

    # -- persistence -------------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
        """Write the bank to the folder ``path`` (``embeddings.safetensors`` + ``concepts.json``), atomically per file.

        The JSON file is written last and records the tensors' sha256, so an interrupted save is detected on load.
        """
        from safetensors.torch import save_file

        from geoembed.weights import sha256_file

        folder = Path(path)
        if folder.exists() and not folder.is_dir():
            raise DataFileError(f"{folder} exists and is not a folder; a concept bank is saved as a folder.")
        if not overwrite and (folder / JSON_NAME).exists():
            from geoembed.errors import OutputExistsError

            raise OutputExistsError(f"A concept bank already exists in {folder}; pass overwrite=True to replace it.")
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {"embeddings": self.embeddings.contiguous()}
        if self.bias is not None:
            tensors["bias"] = self.bias.contiguous()
        with atomic_write(folder / TENSORS_NAME) as tmp:
            save_file(tensors, str(tmp))
        meta = {
            "format_version": FORMAT_VERSION,
            "space": self.space,
            "scoring": self.scoring,
            "count": len(self),
            "dim": self.dim,
            "embeddings_sha256": sha256_file(folder / TENSORS_NAME),
            "names": self.names,
            "categories": self.categories,
            "descriptions": self.descriptions,
            "provenance": self.provenance,
        }
        meta["metadata_sha256"] = metadata_checksum(meta)
        with atomic_write(folder / JSON_NAME) as tmp:
            tmp.write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return folder

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ConceptBank":
        """Read a bank saved with :meth:`save` (its folder, or the ``concepts.json`` inside it)."""
        from safetensors.torch import load_file

        from geoembed.weights import sha256_file

        path = Path(path).expanduser()
        folder = path.parent if path.name == JSON_NAME else path
        json_path, tensors_path = folder / JSON_NAME, folder / TENSORS_NAME
        if not json_path.is_file() or not tensors_path.is_file():
            raise ConceptBankError(
                f"{folder} is not a saved concept bank: it needs {JSON_NAME} and {TENSORS_NAME} "
                f"(write one with ConceptBank.save(folder))."
            )
        try:
            meta = json.loads(json_path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise ConceptBankError(f"{json_path} is not valid JSON: {exc}.") from None
        if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
            version = meta.get("format_version") if isinstance(meta, dict) else None
            hint = (" (saved by an older geoembed, without a checksum of its names, space and scoring: build the bank "
                    "again and save it with this version)") if version == 1 else ""
            raise ConceptBankError(
                f"{json_path} has format_version {version!r}; this geoembed reads version {FORMAT_VERSION}{hint}."
            )
        missing = [k for k in ("space", "names", "embeddings_sha256", "metadata_sha256") if k not in meta]
        if missing:
            raise ConceptBankError(f"{json_path} lacks the fields {missing}.")
        if metadata_checksum(meta) != meta["metadata_sha256"]:
            raise ConceptBankError(
                f"{json_path} was edited after it was saved: its names, space, scoring or other fields do not match "
                f"its metadata_sha256. Refusing to load it; save the bank again from its source."
            )
        if sha256_file(tensors_path) != meta["embeddings_sha256"]:
            raise ConceptBankError(
                f"{tensors_path} does not match {json_path} (sha256 differs): the two files come from different "
                f"saves or one is corrupt. Save the bank again."
            )
        try:
            tensors = load_file(str(tensors_path), device="cpu")
        except Exception as exc:
            raise ConceptBankError(f"Cannot read {tensors_path}: {type(exc).__name__}: {exc}.") from None
        if "embeddings" not in tensors:
            raise ConceptBankError(f"{tensors_path} holds no 'embeddings' tensor.")
        shape = tuple(tensors["embeddings"].shape)
        if len(shape) != 2 or (meta.get("count"), meta.get("dim")) != shape or shape[0] != len(meta["names"]):
            raise ConceptBankError(
                f"{json_path} records {meta.get('count')} concepts of width {meta.get('dim')} and "
                f"{len(meta['names'])} names, but {tensors_path} holds a {list(shape)} matrix."
            )
        return cls(
            meta["names"],
            tensors["embeddings"],
            space=meta["space"],
            categories=meta.get("categories"),
            descriptions=meta.get("descriptions"),
            scoring=meta.get("scoring", "cosine"),
            bias=tensors.get("bias"),
            provenance=meta.get("provenance"),
        )

    # -- constructors --------------------------------------------------------------------------------------------------
    @classmethod
    def from_array(
        cls,
        names: Sequence[str],
        embeddings: Any,
        *,
        space: str,
        categories: Sequence[str] | None = None,
        descriptions: Sequence[str] | None = None,
        provenance: Mapping[str, Any] | None = None,
    ) -> "ConceptBank":
        """A cosine bank from precomputed vectors (``(K, D)`` array or tensor) that live in ``space``."""
        return cls(names, embeddings, space=space, categories=categories, descriptions=descriptions,
                   provenance={"built_from": "array", **dict(provenance or {})})

    @classmethod
    def from_texts(
        cls,
        texts: Sequence[str],
        *,
        text_encoder: Any = "minilm",
        categories: Sequence[str] | None = None,
        descriptions: Sequence[str] | None = None,
        prompt: str | None = None,
        batch_size: int = 256,
        progress: bool = False,
        provenance: Mapping[str, Any] | None = None,
        **encoder_kwargs: Any,
    ) -> "ConceptBank":
        """Embed concept names with a registered text encoder (``"minilm"`` works offline) into a cosine bank.

        Args:
            texts: the concept names; each is embedded as ``prompt.format(name)``.
            text_encoder: a registered name (see :func:`geoembed.list_text_encoders`) or a ``TextEncoder``.
            prompt: template with one ``{}``; default: the encoder's own (``"{}"`` for MiniLM,
                ``"a photo of {}."`` for CLIP text towers).
            **encoder_kwargs: passed to the text encoder's factory when given by name.

        Embeddings are cached on disk per (texts, encoder) (see :func:`geoembed.concepts.encode_texts`).
        """
        from geoembed.concepts.text_encoders import encode_texts, get_text_encoder

        names = _check_names(texts)
        encoder = get_text_encoder(text_encoder, **encoder_kwargs)
        template = encoder.default_prompt if prompt is None else prompt
        if not isinstance(template, str) or template.count("{}") != 1:
            raise ValueError(f"prompt must be a string with exactly one '{{}}', got {template!r}.")
        vectors = encode_texts(encoder, [template.format(n) for n in names], batch_size=batch_size, progress=progress)
        record = {"built_from": "texts", "text_encoder": encoder.identity, "prompt": template}
        return cls(names, vectors, space=encoder.space, categories=categories, descriptions=descriptions,
                   provenance={**record, **dict(provenance or {})})

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike,
        *,
        text_encoder: Any = "minilm",
        prompt: str | None = None,
        progress: bool = False,
        **encoder_kwargs: Any,
    ) -> "ConceptBank":
        """Embed the concepts listed in a CSV, JSON or YAML file (see :func:`read_concept_file`) with a text encoder."""
        table = read_concept_file(path)
        header = {k: v for k, v in table.items() if k not in ("names", "categories", "descriptions")}
        return cls.from_texts(
            table["names"],
            text_encoder=text_encoder,
            categories=table["categories"],
            descriptions=table["descriptions"],
            prompt=prompt,
            progress=progress,
            provenance={"concept_file": Path(path).name, **header},
            **encoder_kwargs,
        )

    @classmethod
    def from_geodata(cls, gdf: Any, label_column: str | Sequence[str], **kwargs: Any) -> "ConceptBank":
        """Concept activation vectors in a location encoder's space, fitted on a labelled GeoDataFrame of points.

        See :func:`fit_geodata_bank` for the arguments and :mod:`geoembed.concepts.geodata` for the method.
        """
        return fit_geodata_bank(gdf, label_column, **kwargs)


def fit_geodata_bank(
    gdf: Any,
    label_column: str | Sequence[str],
    *,
    encoder: Any = "geoclip",
    method: str = "logistic",
    categories: str | Mapping[str, str] | None = None,
    descriptions: Mapping[str, str] | None = None,
    C: float = 1.0,
    min_positives: int = 10,
    device: Any = None,
    batch_size: int = 8192,
    progress: bool = False,
    provenance: Mapping[str, Any] | None = None,
    **encoder_kwargs: Any,
) -> ConceptBank:
    """A linear concept bank in ``encoder``'s space, fitted on a GeoDataFrame of labelled points (see
    :mod:`geoembed.concepts.geodata` for the probes; this is :meth:`ConceptBank.from_geodata`).

    >>> bank = ConceptBank.from_geodata(places, "climate", encoder="geoclip")          # doctest: +SKIP
    >>> geoembed.explain_location(lat=27.98, lon=86.92, bank=bank)                     # doctest: +SKIP

    Args:
        gdf: a GeoDataFrame of points (any CRS; reprojected to WGS84) with the label columns.
        label_column: a class column (one concept per value) or a boolean column (one concept), or a list of them.
        encoder: a registered location encoder name or a :class:`~geoembed.LocationEncoder`.
        method: ``"logistic"`` or ``"mean"`` (see the module docstring).
        categories: category path(s) for the concepts (default ``"geodata/<column>"``).
        descriptions: optional text per concept name (how its labels were made, for example).
        C: inverse regularisation strength of the logistic probes.
        min_positives: fewest positive (and negative) places a concept needs.
    """
    from geoembed.concepts.geodata import concept_labels, fit_concept_vectors
    from geoembed.coords import as_latlon
    from geoembed.location_encoders.encode import encode_location, get_location_encoder

    latlon = as_latlon(gdf)
    labels = concept_labels(gdf, label_column, categories)
    model = get_location_encoder(encoder, device=device, **encoder_kwargs)
    embeddings = encode_location(latlon, order="latlon", encoder=model, batch_size=batch_size, progress=progress)
    weights, bias = fit_concept_vectors(embeddings, labels.targets, labels.known, method=method, C=C,
                                        min_positives=min_positives, names=labels.names)
    record = {
        "built_from": "geodata",
        "method": method,
        "C": C,
        "location_encoder": model.identity,
        "label_columns": sorted(set(labels.columns)),
        "places": int(len(latlon)),
        "positives": {n: int(labels.targets[:, k].sum()) for k, n in enumerate(labels.names)},
    }
    return ConceptBank(labels.names, weights, space=location_space(model), categories=labels.categories,
                       descriptions=[str((descriptions or {}).get(n, "")) for n in labels.names],
                       scoring="linear", bias=bias, provenance={**record, **dict(provenance or {})})


def metadata_checksum(meta: Mapping[str, Any]) -> str:
    """sha256 of every field of a ``concepts.json`` but ``metadata_sha256`` itself, in a canonical JSON form.

    It covers the names, categories, descriptions, space, scoring, counts, provenance and (through
    ``embeddings_sha256``) the tensor file, so an edit to any of them is caught on load."""
    fields = {k: v for k, v in meta.items() if k != "metadata_sha256"}
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_concept_bank(bank: Any, **kwargs: Any) -> ConceptBank:
    """A concept bank from a registered name (``"geography"``, ``"geodata.geoclip"``...), a saved bank's folder, or
    a :class:`ConceptBank` (returned as is). ``kwargs`` go to the registered factory (e.g. ``text_encoder="open_clip"``).
    """
    from geoembed.errors import UnknownPluginError
    from geoembed.registry import concept_banks

    if isinstance(bank, ConceptBank):
        if kwargs:
            raise TypeError(f"Options {sorted(kwargs)} only apply when the bank is given by name.")
        return bank
    if not isinstance(bank, (str, os.PathLike)):
        raise TypeError(f"bank must be a registered name, a folder path or a ConceptBank, got {type(bank).__name__}.")
    path = Path(bank).expanduser()
    if not (isinstance(bank, str) and bank in concept_banks.names()) and path.exists():
        if kwargs:
            raise TypeError(f"Options {sorted(kwargs)} only apply to registered banks, not to a saved folder.")
        return ConceptBank.load(path)
    try:
        factory = concept_banks.get(str(bank))
    except UnknownPluginError as exc:
        raise UnknownPluginError(f"{exc} No folder {str(path)!r} exists either (for a saved bank).") from None
    loaded = factory(**kwargs)
    if not isinstance(loaded, ConceptBank):
        raise TypeError(f"The concept bank plugin {bank!r} returned a {type(loaded).__name__}, not a ConceptBank.")
    return loaded


def location_space(model: Any) -> str:
    """The embedding space of a location encoder: ``"location:<weights name>"`` (e.g. ``location:geoclip.mp16``).

    Random or weight-free encoders are named by their :attr:`~geoembed.LocationEncoder.identity`, so a bank fitted
    on one random initialisation is never used with another.
    """
    weights = getattr(model, "weights", None)
    return f"location:{weights.name}" if weights is not None else f"location:{model.identity}"


# -- concept files ---------------------------------------------------------------------------------------------------
def read_concept_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read concept names, categories and descriptions from a CSV, JSON or YAML file.

    Accepted layouts:

    - CSV with a ``name`` column (also ``concept``), optional ``category`` and ``description`` columns;
    - JSON/YAML: a list of records (``{"name": ..., "category": ..., "description": ...}``) or of plain names, or a
      mapping with a ``concepts`` key holding such a list, or a mapping ``{category path: [names or records]}``.
      Other top-level keys of the mapping (``name``, ``description``, ``source``...) are kept as provenance.

    Returns ``{"names": [...], "categories": [...], "descriptions": [...], **header}``.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"Concept file {path} does not exist.")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_concept_csv(path)
    if suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise DataFileError(f"{path} is not valid JSON: {_parse_problem(exc)}.") from None
    elif suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
            raise DataFileError(f"{path} is not valid YAML: {_parse_problem(exc)}.") from None
    else:
        raise DataFileError(f"Unsupported concept file type {suffix!r} ({path}): use .csv, .json, .yaml or .yml.")
    return _concepts_from_structure(data, path)


def _parse_problem(exc: BaseException) -> str:
    """Why a concept file could not be parsed, in words (the bare exceptions name neither encoding nor depth)."""
    if isinstance(exc, UnicodeDecodeError):
        return f"it is not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8"
    if isinstance(exc, RecursionError):
        return "it is nested too deeply to be a list of concepts"
    return str(exc)


def _read_concept_csv(path: Path) -> dict[str, Any]:
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise DataFileError(f"Cannot read {path} as CSV: {exc}.") from None
    columns = {c.strip().lower(): c for c in frame.columns}
    name_col = columns.get("name") or columns.get("concept")
    if name_col is None:
        raise DataFileError(f"{path} needs a 'name' (or 'concept') column; it has {list(frame.columns)}.")
    pick = lambda key: [str(v) for v in frame[columns[key]]] if key in columns else None  # noqa: E731
    return {"names": [str(v) for v in frame[name_col]], "categories": pick("category"),
            "descriptions": pick("description")}


def _concepts_from_structure(data: Any, path: Path) -> dict[str, Any]:
    header: dict[str, Any] = {}
    if isinstance(data, dict) and "concepts" in data:
        header = {k: v for k, v in data.items() if k != "concepts" and isinstance(v, (str, int, float))}
        data = data["concepts"]
    rows: list[tuple[str, str | None, str]] = []
    if isinstance(data, list):
        for item in data:
            rows.append(_concept_row(item, None, path))
    elif isinstance(data, dict):
        for category, items in data.items():
            if not isinstance(items, list):
                raise DataFileError(f"{path}: category {category!r} must hold a list of concepts, got {items!r}.")
            rows.extend(_concept_row(item, str(category), path) for item in items)
    else:
        raise DataFileError(f"{path} must hold a list of concepts or a mapping of category -> concepts.")
    if not rows:
        raise DataFileError(f"{path} lists no concepts.")
    categories = [c for _, c, _ in rows]
    return {
        **header,
        "names": [n for n, _, _ in rows],
        "categories": None if all(c is None for c in categories) else [c or "uncategorized" for c in categories],
        "descriptions": [d for _, _, d in rows],
    }


def _concept_row(item: Any, category: str | None, path: Path) -> tuple[str, str | None, str]:
    if isinstance(item, str):
        return item, category, ""
    if isinstance(item, dict) and isinstance(item.get("name"), str):
        return item["name"], item.get("category", category), str(item.get("description", "") or "")
    raise DataFileError(f"{path}: each concept must be a name or a record with a 'name', got {item!r}.")


# -- validation --------------------------------------------------------------------------------------------------------
def _check_names(names: Any) -> list[str]:
    if isinstance(names, str) or not isinstance(names, Iterable):
        raise ConceptBankError(f"Concept names must be a list of strings, got {type(names).__name__}.")
    names = list(names)
    if not names:
        raise ConceptBankError("A concept bank needs at least one concept.")
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise ConceptBankError(f"Concept name #{i} is {name!r}; every concept needs a non-empty string name.")
        if name != name.strip():
            raise ConceptBankError(f"Concept name {name!r} has leading or trailing spaces; strip them.")
    seen: set[str] = set()
    duplicates = sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]
    if duplicates:
        raise ConceptBankError(f"Concept names must be unique; duplicated: {duplicates[:10]}.")
    return names


def _check_strings(values: Any, count: int, field: str, *, default: str, allow_empty: bool = False) -> list[str]:
    if values is None:
        return [default] * count
    if isinstance(values, str):
        raise ConceptBankError(f"{field} must be a list with one string per concept, got a single string.")
    values = list(values)
    if len(values) != count:
        raise ConceptBankError(f"{field} has {len(values)} entries for {count} concepts; give one per concept.")
    for i, value in enumerate(values):
        if not isinstance(value, str) or (not allow_empty and not value.strip()):
            raise ConceptBankError(f"{field}[{i}] is {value!r}; expected a non-empty string.")
    return values


def _as_matrix(embeddings: Any, count: int) -> torch.Tensor:
    try:
        matrix = (embeddings if torch.is_tensor(embeddings) else torch.as_tensor(np.asarray(embeddings, dtype=np.float64)))
    except (TypeError, ValueError) as exc:
        raise ConceptBankError(f"Concept embeddings must be a numeric (K, D) array: {exc}.") from None
    matrix = matrix.detach().to("cpu", torch.float32).contiguous()
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise ConceptBankError(f"Concept embeddings must be a (K, D) matrix, got shape {tuple(matrix.shape)}.")
    if matrix.shape[0] != count:
        raise ConceptBankError(f"{matrix.shape[0]} embedding rows for {count} concept names; give one row per concept.")
    bad = (~torch.isfinite(matrix)).any(dim=1).nonzero().flatten().tolist()
    if bad:
        raise ConceptBankError(f"Concept embeddings hold NaN or infinite values in rows {bad[:10]}.")
    return matrix


def _check_bias(bias: Any, scoring: str, count: int) -> torch.Tensor | None:
    if scoring == "cosine":
        if bias is not None:
            raise ConceptBankError("bias only applies to linear banks (scoring='linear').")
        return None
    if bias is None:
        raise ConceptBankError("A linear bank needs bias: one intercept per concept.")
    vector = torch.as_tensor(np.asarray(bias, dtype=np.float32)).flatten()
    if vector.shape[0] != count or not torch.isfinite(vector).all():
        raise ConceptBankError(f"bias must hold {count} finite values (one per concept), got {tuple(vector.shape)}.")
    return vector.contiguous()


def _check_provenance(provenance: Mapping[str, Any] | None) -> dict[str, Any]:
    record = dict(provenance or {})
    try:
        json.dumps(record, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConceptBankError(f"provenance must be JSON-serialisable (strings, numbers, lists, dicts): {exc}.") from None
    return record

