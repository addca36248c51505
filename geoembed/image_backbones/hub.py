"""Offline-first lookup of open_clip and timm weights in the Hugging Face cache, shared by both backbone plugins.

When the weights are not cached, :func:`require_online` decides quickly whether a download can work: not at all when
``GEOEMBED_OFFLINE`` / ``HF_HUB_OFFLINE`` is set, and after one short probe (a few seconds at most) when the Hub
cannot be reached, instead of letting the download retry for most of a minute. Either way the user gets one
:class:`HubUnavailableError` that says what to fetch and how, naming the option they actually used: the Python keyword
(``pretrained=``, ``clip_pretrained=``) or, from the command line, the flag (``--clip-weights``); see
:func:`weights_option`.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import urlsplit

from geoembed.errors import WeightsNotFoundError
from geoembed.weights import offline, sha256_file

PROBE_TIMEOUT_S = 3.0

_OPTION: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("geoembed_weights_option", default={})


class HubUnavailableError(WeightsNotFoundError):
    """Weights that are neither on disk nor downloadable now (offline, or the Hub unreachable)."""


@contextlib.contextmanager
def weights_option(*, python: str | None = None, cli: str | None = None) -> Iterator[None]:
    """Name the option through which the user passes a weights file, for the messages of :func:`require_online`.

    ``python`` is a keyword (``"clip_pretrained"``), ``cli`` a flag (``"--clip-weights"``); a flag, when set, wins.
    The outermost caller knows the user's words best, so a name already set is kept.
    """
    current = dict(_OPTION.get())
    if python and "python" not in current:
        current["python"] = python
    if cli and "cli" not in current:
        current["cli"] = cli
    token = _OPTION.set(current)
    try:
        yield
    finally:
        _OPTION.reset(token)


def hf_cached_file(repo_id: str, filenames: Iterable[str]) -> Path | None:
    """The first of ``filenames`` already in the Hugging Face cache for ``repo_id`` (no network), or None."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # hub support is optional: pip install pygeoembed[hub]
        return None
    for filename in filenames:
        found = try_to_load_from_cache(repo_id, filename)
        if isinstance(found, str) and Path(found).is_file():
            return Path(found)
    return None


def hub_endpoint() -> str:
    """The Hugging Face endpoint downloads go to (``HF_ENDPOINT`` or https://huggingface.co)."""
    try:
        from huggingface_hub import constants

        return constants.ENDPOINT
    except ImportError:  # pragma: no cover - huggingface_hub comes with open_clip and timm
        return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def probe(url: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """None when ``url``'s server answers within ``timeout`` seconds (any HTTP status), else why not (one try)."""
    try:
        from huggingface_hub.utils import get_session  # the Hub's own client: its proxies, certificates, headers

        get_session().head(url, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "unreachable"
        return f"{type(exc).__name__}: {exc}"
    return None


def require_online(what: str, repo_id: str, filenames: list[str]) -> None:
    """Return when a download of ``repo_id``'s weights can be tried now; else raise :class:`HubUnavailableError`.

    ``repo_id`` is a Hub repository (``"timm/vit_base_patch16_224.augreg_in21k"``) or a plain URL.
    """
    if offline():
        switch = "GEOEMBED_OFFLINE" if os.environ.get("GEOEMBED_OFFLINE", "").lower() in {"1", "true", "yes"} \
            else "HF_HUB_OFFLINE"
        raise unavailable(what, repo_id, filenames, f"downloads are off ({switch} is set)",
                          extra=f"or unset {switch} on a machine with internet access to let geoembed download it")
    is_url = repo_id.startswith(("http://", "https://"))
    target = repo_id if is_url else hub_endpoint()
    failure = probe(target)
    if failure is not None:
        host = urlsplit(target).netloc or target
        raise unavailable(what, repo_id, filenames, f"{host} cannot be reached ({failure})")


def unavailable(what: str, repo_id: str, filenames: list[str], reason: str, *, extra: str | None = None
                ) -> HubUnavailableError:
    """The one error for weights that cannot be had now: what is missing, why, what to fetch and how to pass it."""
    filename = filenames[0]
    option = _OPTION.get()
    if option.get("cli"):
        pass_it = f"{option['cli']} DIR/{filename}"
    else:
        pass_it = f"{option.get('python', 'pretrained')}='DIR/{filename}'"
    if repo_id.startswith(("http://", "https://")):
        fetch = f"  - download {repo_id} into a folder DIR, then pass {pass_it}"
    else:
        fetch = (f"  - into the Hugging Face cache, where geoembed finds it by itself:\n"
                 f"      hf download {repo_id} {filename}\n"
                 f"  - or into a folder DIR of your choice, then pass {pass_it}:\n"
                 f"      hf download {repo_id} {filename} --local-dir DIR\n"
                 f"    (`hf` comes with huggingface_hub; on a machine without internet, copy the file or the cache "
                 f"folder ~/.cache/huggingface/hub over from one that has it)")
    lines = [f"Pretrained weights for {what} are not on this machine and {reason}. Fetch them once:", fetch]
    if extra:
        lines.append(f"  - {extra}.")
    return HubUnavailableError("\n".join(lines))


def describe_file(prefix: str, path: Path) -> str:
    """A one-line provenance of a weights file, with its sha256 (the backbone's ``weights`` description)."""
    return f"{prefix} from {path} (sha256 {sha256_file(path)})"
