"""The contract every image backbone plugin implements, and the image transforms built from it.

An image backbone turns pictures into feature vectors. Its preprocessing travels with it (as in open_clip), because
the transform a set of weights expects (size, crop, mean and std) is part of those weights:

- :meth:`ImageBackbone.preprocess`: one image (PIL, or a ``(C, H, W)`` array/tensor for non-RGB data) to a
  ``(C, H, W)`` float32 tensor ready for the network;
- :meth:`ImageBackbone.encode`: a ``(N, C, H, W)`` batch to ``(N, feature_dim)`` features;
- :meth:`ImageBackbone.augment` and :meth:`ImageBackbone.ten_crop`: SimCLR-style random views (GeoCLIP's training
  augmentations) and the Ten Crop test-time protocol (GeoCLIP's evaluation), sized and normalised for this backbone.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from geoembed.weights import WeightsRecord, state_dict_sha256, weights_identity

__all__ = ["ImageBackbone", "channels_first", "normalize", "state_dict_sha256"]


class ImageBackbone(nn.Module):
    """Base class of image backbones. Subclasses set the attributes below and implement :meth:`encode`.

    Attributes:
        feature_dim: width of :meth:`encode`'s output.
        weights: the :class:`~geoembed.weights.WeightsRecord` of the loaded weights, a one-line description of where
            they came from (``"open_clip ViT-L-14 'openai' from /path (sha256 ...)"``), or None for random weights.
        in_chans: input channels (3 for RGB; any number for multispectral timm models).
        image_size: ``(height, width)`` of the network input.
        mean, std: per-channel normalisation of the network input.
        transform: the deterministic PIL -> tensor evaluation transform (resize, centre crop, normalise).
    """

    feature_dim: int = 0
    weights: WeightsRecord | str | None = None
    in_chans: int = 3
    image_size: tuple[int, int] = (224, 224)
    mean: tuple[float, ...] = (0.48145466, 0.4578275, 0.40821073)
    std: tuple[float, ...] = (0.26862954, 0.26130258, 0.27577711)
    transform: Callable[[Any], torch.Tensor] | None = None

    def encode(self, batch: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """``(N, in_chans, H, W)`` preprocessed images to ``(N, feature_dim)`` features."""
        raise NotImplementedError

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.encode(batch)

    # -- preprocessing ------------------------------------------------------------------------------------------------
    def preprocess(self, image: Any) -> torch.Tensor:
        """One image to a ``(in_chans, H, W)`` float32 tensor: PIL images go through :attr:`transform`.

        Arrays and tensors are taken as pixel values: ``(H, W, C)`` or ``(C, H, W)`` (whichever axis matches
        :attr:`in_chans`), ``uint8`` in 0..255 or floats in 0..1; they are resized to :attr:`image_size` and normalised
        with :attr:`mean`/:attr:`std`. Use arrays for inputs PIL cannot hold (more than 4 channels).
        """
        from PIL import Image

        if isinstance(image, Image.Image):
            if self.in_chans != 3:
                raise ValueError(
                    f"This backbone takes {self.in_chans}-channel input; pass the image as a (C, H, W) array, not a "
                    f"PIL image."
                )
            assert self.transform is not None, f"{type(self).__name__} must set self.transform"
            return self.transform(image.convert("RGB"))
        return self._preprocess_array(image)

    def _preprocess_array(self, image: Any) -> torch.Tensor:
        import torch.nn.functional as F

        tensor = image.detach().cpu() if isinstance(image, torch.Tensor) else torch.from_numpy(np.array(image))
        tensor = channels_first(tensor, self.in_chans)
        if tensor.dtype == torch.uint8:
            tensor = tensor.float() / 255.0
        else:
            tensor = tensor.float()
        if not torch.isfinite(tensor).all():
            raise ValueError("The image array holds NaN or infinite values.")
        tensor = F.interpolate(tensor[None], size=self.image_size, mode="bilinear", align_corners=False,
                               antialias=True)[0]
        return normalize(tensor, self.mean, self.std)

    def augment(self) -> Callable[[Any], torch.Tensor]:
        """A random SimCLR-style view (GeoCLIP's training augmentations), sized and normalised for this backbone.

        Random resized crop, horizontal flip, colour jitter (p=0.8), grayscale (p=0.2), as in GeoCLIP's
        ``img_train_transform``, but normalised with this backbone's own mean and std.
        """
        from torchvision import transforms as T

        self._require_rgb("augmented views")
        return T.Compose([
            T.RandomResizedCrop(self.image_size, interpolation=T.InterpolationMode.BICUBIC),
            T.RandomHorizontalFlip(),
            T.RandomApply([T.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)], p=0.8),
            T.RandomGrayscale(p=0.2),
            T.ToTensor(),
            T.Normalize(self.mean, self.std),
        ])

    def ten_crop(self) -> Callable[[Any], torch.Tensor]:
        """Ten Crop: the four corners, the centre and their mirror images, as a ``(10, C, H, W)`` tensor.

        The image is first resized so that its shorter side is 8/7 of the crop (256 for 224, the usual ratio), so
        the crops differ; GeoCLIP averages its predictions over these ten views at test time.
        """
        from torchvision import transforms as T

        self._require_rgb("Ten Crop")
        to_tensor = T.Compose([T.ToTensor(), T.Normalize(self.mean, self.std)])
        return T.Compose([
            T.Resize(round(min(self.image_size) * 8 / 7), interpolation=T.InterpolationMode.BICUBIC),
            T.TenCrop(self.image_size),
            T.Lambda(lambda crops: torch.stack([to_tensor(c) for c in crops])),
        ])

    def _require_rgb(self, what: str) -> None:
        if self.in_chans != 3:
            raise ValueError(f"{what} are defined for RGB images; this backbone takes {self.in_chans} channels.")

    # -- identity -------------------------------------------------------------------------------------------------------
    @property
    def identity(self) -> str:
        """A string that changes whenever the features could change (class, width, weights): a cache key.

        Random weights are identified by a hash of their values, so two differently seeded random backbones never
        share cached features.
        """
        weights_id = weights_identity(self.weights, self)
        preprocessing = f"{self.image_size}:{tuple(round(v, 6) for v in self.mean)}:{tuple(round(v, 6) for v in self.std)}"
        return f"{type(self).__module__}.{type(self).__qualname__}:{self.feature_dim}:{preprocessing}:{weights_id}"

    @property
    def device(self) -> torch.device:
        """Device of the backbone's parameters."""
        for tensor in self.parameters():
            return tensor.device
        return torch.device("cpu")


def channels_first(tensor: torch.Tensor, in_chans: int) -> torch.Tensor:
    """``(H, W)``, ``(H, W, C)`` or ``(C, H, W)`` pixels to ``(C, H, W)``, checking the channel count."""
    if tensor.ndim == 2:
        tensor = tensor[None]
    if tensor.ndim != 3:
        raise ValueError(f"An image array must be (H, W), (H, W, C) or (C, H, W); got shape {tuple(tensor.shape)}.")
    if tensor.shape[0] == in_chans:
        return tensor
    if tensor.shape[-1] == in_chans:
        return tensor.permute(2, 0, 1)
    if tensor.shape[0] == 1 and in_chans == 3:  # grayscale to RGB, as PIL's convert("RGB") does
        return tensor.expand(3, -1, -1)
    raise ValueError(
        f"The image array has shape {tuple(tensor.shape)}, but the backbone takes {in_chans} channels (expected "
        f"({in_chans}, H, W) or (H, W, {in_chans}))."
    )


def normalize(tensor: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Per-channel ``(x - mean) / std`` of a ``(C, H, W)`` tensor."""
    m = torch.as_tensor(mean, dtype=tensor.dtype)[:, None, None]
    s = torch.as_tensor(std, dtype=tensor.dtype)[:, None, None]
    return (tensor - m) / s
