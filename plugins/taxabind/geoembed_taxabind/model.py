"""TaxaBind's location encoder (Sastry et al., WACV 2025): GeoCLIP's architecture with TaxaBind's weights.

TaxaBind binds six ecological modalities; its location tower is GeoCLIP's location encoder (rshf's
``rshf.geoclip.LocationEncoder``, config sigma [1, 16, 256]), initialised from GeoCLIP's weights and trained on
iNaturalist 2021 observations against species images. The published file (``MVRL/ecogeo``) has exactly GeoCLIP's
state-dict layout (``LocEnc{i}.capsule.0.b``, ``LocEnc{i}.capsule.{1,3,5}.*``, ``LocEnc{i}.head.0.*``), so this module
reuses the GeoCLIP plugin's :class:`~geoembed_geoclip.GeoCLIPLocationEncoder` as is (its fast inference path
included) and only loads other weights. Keys under a ``location_encoder.`` prefix (a whole TaxaBind/LocationBind
model's state dict) are selected; nothing is renamed otherwise.
"""

from __future__ import annotations

from pathlib import Path

from geoembed.errors import WeightsError
from geoembed.weights import WeightsRecord, load_state_dict, resolve_weights
from geoembed_geoclip.location_encoder import DEFAULT_SIGMAS, GeoCLIPLocationEncoder

from geoembed_taxabind.weights import TAXABIND_WEIGHTS

#: TaxaBind's published config: sigma [1, 16, 256] (GeoCLIP's), encoded_size 256, dim 512.
TAXABIND_SIGMAS = DEFAULT_SIGMAS
PREFIX = "location_encoder."


def taxabind_state_dict(state: dict, source: str | Path = "state dict") -> dict:
    """The location encoder's tensors from ``state``, in GeoCLIP's layout; :class:`WeightsError` if there are none."""
    if not any(k.startswith("LocEnc") for k in state) and any(k.startswith(PREFIX + "LocEnc") for k in state):
        state = {k[len(PREFIX):]: v for k, v in state.items() if k.startswith(PREFIX)}
    if not any(k.startswith("LocEnc") for k in state):
        keys = sorted(state)
        shown = ", ".join(keys[:4]) + (", ..." if len(keys) > 4 else "")
        raise WeightsError(
            f"{source} is not a TaxaBind location encoder: it has no 'LocEnc0.*' tensors (GeoCLIP's layout, which "
            f"TaxaBind's MVRL/ecogeo file uses); its keys: {shown or 'none'}."
        )
    return state


class TaxaBindLocationEncoder(GeoCLIPLocationEncoder):
    """TaxaBind location encoder: ``(N, 2)`` ``[lat, lon]`` degrees to ``(N, 512)`` features (before normalising).

    Build it with ``geoembed.create_location_encoder("taxabind")``.
    """

    def load_pretrained(self, weights: str = "ecogeo", weights_path: str | Path | None = None
                        ) -> "TaxaBindLocationEncoder":
        """Load TaxaBind's weights, resolved offline-first (path, geoembed's cache, then the Hub)."""
        record = _weights_record(weights)
        resolved = resolve_weights(record, weights_path)
        state = taxabind_state_dict(load_state_dict(resolved.path), resolved.path)
        try:
            self.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise WeightsError(
                f"{resolved.path} does not have the TaxaBind/GeoCLIP location encoder layout for sigmas "
                f"{self.sigmas}: {exc}"
            ) from None
        self.weights = resolved.record
        return self


def _weights_record(tag: str) -> WeightsRecord:
    try:
        return TAXABIND_WEIGHTS[tag]
    except KeyError:
        raise ValueError(f"Unknown TaxaBind weights {tag!r}; available: {sorted(TAXABIND_WEIGHTS)}.") from None


def taxabind_location_encoder(
    pretrained: bool = True,
    *,
    weights: str = "ecogeo",
    weights_path: str | Path | None = None,
    seed: int | None = None,
    precision: str = "float32",
) -> TaxaBindLocationEncoder:
    """Factory registered as ``"taxabind"``: TaxaBind's location encoder (512-d).

    Args:
        pretrained: load TaxaBind's weights (``weights_path``, geoembed's cache, then the Hugging Face Hub unless
            ``GEOEMBED_OFFLINE=1``), or keep a random GeoCLIP-architecture initialisation.
        weights: which published weights (``"ecogeo"``, the file ``MVRL/taxabind-config`` names).
        weights_path: the ``model.safetensors`` of ``MVRL/ecogeo`` (or a folder holding it).
        seed: seed of the random initialisation (``pretrained=False``).
        precision: ``"float32"`` (exact) or ``"bfloat16"`` (GeoCLIP's opt-in faster MLPs).
    """
    if pretrained or weights_path is not None:
        # Seeded so that building never consumes the caller's random state; the checkpoint replaces these values.
        model = TaxaBindLocationEncoder(sigmas=TAXABIND_SIGMAS, seed=0, precision=precision)
        return model.load_pretrained(weights, weights_path).eval()
    return TaxaBindLocationEncoder(sigmas=TAXABIND_SIGMAS, seed=seed, precision=precision).eval()
