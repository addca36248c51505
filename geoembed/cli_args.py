"""Argument types and checks for `geoembed` subcommands, the core's and plugins' alike (one definition each, one
wording of each error): `positive_int`, `positive_float`, `jobs`, `seed`, `degrees_in`, `device`, `check_device`."""

from __future__ import annotations

import argparse
import math
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


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def jobs(text: str) -> int:
    """argparse type: a number of parallel processes, >= 1, or -1 for one per CPU core."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value == 0 or value < -1:
        raise argparse.ArgumentTypeError(f"must be at least 1, or -1 for one per CPU core; got {value}")
    return value


def seed(text: str) -> int:
    """argparse type: a random seed, an integer in [0, 2**32 - 1] (what numpy and scikit-learn accept)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be between 0 and {2**32 - 1}, got {value}")
    return value


def degrees_in(low: float, high: float):
    """argparse type factory: a finite number of degrees in ``(low, high]``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or not low < value <= high:
            raise argparse.ArgumentTypeError(f"must be a number of degrees in ({low:g}, {high:g}], got {text}")
        return value

    parse.__name__ = "degrees"  # argparse names the type in its messages
    return parse


def device(text: str) -> str:
    """argparse type: the spelling of a device (availability is checked by :func:`check_device`)."""
    if not _DEVICE.match(text):
        raise argparse.ArgumentTypeError(f"{text!r}: use auto, cpu, cuda, cuda:N or mps")
    return text


def check_device(name: str) -> None:
    """Refuse a device that this machine does not have, before any slow work."""
    from geoembed.location_encoders.encode import resolve_device

    try:
        resolve_device(name)
    except ValueError as exc:
        raise GeoembedError(f"--device {name}: {exc}") from None
