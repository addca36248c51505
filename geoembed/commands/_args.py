"""Argument types and checks shared by the subcommands (one definition each, one wording of each error)."""

from __future__ import annotations

import argparse
import re

from geoembed.errors import GeoembedError

_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def device(text: str) -> str:
    """argparse type: the spelling of a device (availability is checked by :func:`check_device`)."""
    if not _DEVICE.match(text):
        raise argparse.ArgumentTypeError(f"{text!r}: use auto, cpu, cuda, cuda:N or mps")
    return text


def check_device(name: str) -> None:
    """Refuse a device that this machine does not have, before any slow work."""
    from geoembed.encode import resolve_device

    try:
        resolve_device(name)
    except ValueError as exc:
        raise GeoembedError(f"--device {name}: {exc}") from None
