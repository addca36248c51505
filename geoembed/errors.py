"""Exceptions and warnings raised by geoembed.

Every error subclasses :class:`GeoembedError` and also the built-in exception a caller would naturally catch
(``ValueError`` for bad input, ``KeyError`` for unknown names, ``FileNotFoundError`` for missing files), so
``except ValueError`` keeps working for people who do not know our types.
"""

from __future__ import annotations


class GeoembedError(Exception):
    """Base class of every error geoembed raises on purpose."""


class InvalidCoordinatesError(GeoembedError, ValueError):
    """Coordinates that are missing, non-finite, out of range, swapped or of the wrong shape."""


class InvalidGeometryError(GeoembedError, ValueError):
    """Geometries that geoembed cannot turn into coordinates (wrong type, empty, invalid, no CRS)."""


class UnknownPluginError(GeoembedError, KeyError):
    """A plugin name that no registry knows; the message lists close matches."""

    def __str__(self) -> str:  # KeyError would repr() the message and add quotes
        return str(self.args[0]) if self.args else ""


class PluginLoadError(GeoembedError, ImportError):
    """A registered plugin whose code failed to import or to build."""


class PluginOutputError(GeoembedError, RuntimeError):
    """A plugin whose output breaks its contract: wrong number of rows, wrong width, not floating point, or absurd
    values. The message names the plugin and the distribution that installed it."""


class NonFiniteOutputError(PluginOutputError, FloatingPointError):
    """A plugin produced NaN or infinite values (often corrupt weights)."""


class WeightsError(GeoembedError):
    """Pretrained weights that cannot be found, verified or read."""


class WeightsNotFoundError(WeightsError, FileNotFoundError):
    """No source of the requested weights is available (offline and nothing on disk)."""


class ChecksumMismatchError(WeightsError, ValueError):
    """A weights file whose sha256 differs from its record: corrupt, truncated or a different release."""


class DataFileError(GeoembedError, ValueError):
    """A data file that cannot be read or written as asked: unsupported format, missing or ambiguous columns..."""


class OutputExistsError(GeoembedError, FileExistsError):
    """An output file that already exists and was not allowed to be overwritten."""


class OutputPathError(GeoembedError, ValueError):
    """An output path geoembed refuses to write: a symlink in an output folder, or a name that is no file name."""


class ResourceLimitError(GeoembedError, ValueError):
    """Work refused up front because its estimated memory exceeds the limit (which the message says how to raise)."""


class CacheWarning(UserWarning):
    """A disk-cache entry failed its checksum (damaged or edited) and was recomputed."""


class ConceptBankError(GeoembedError, ValueError):
    """A concept bank that is malformed, or used with embeddings of another space or width."""


class PluginWarning(UserWarning):
    """A plugin was skipped (failed to load) or shadowed by another plugin of the same name."""
