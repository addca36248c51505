"""Image backbone plugins: open_clip, timm and GeoCLIP's image encoder, with tiny random models and fake checkpoints.

No registry package ships CLIP weights, so pretrained loading is tested with checkpoint files saved from randomly
initialised models of the same layout, loaded through the same path/cache code users go through. GeoCLIP's image head
and logit scale are the real published files (shipped in the ``geoclip`` wheel).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import geoembed
from geoembed.errors import WeightsError, WeightsNotFoundError
from geoembed.image_backbones.contract import ImageBackbone
from geoembed.registry import create_image_backbone
from geoembed.weights import resolve_weights, sha256_file

# A tiny CLIP with the real ViT-L-14 *output* width (768), so GeoCLIP's real head fits on top of it.
from fakes import TINY_CLIP  # noqa: E402 - shared tiny open_clip architecture


def tiny_open_clip(pretrained=None, model_name="ViT-B-32", **overrides):
    return create_image_backbone("open_clip", model_name=model_name, pretrained=pretrained, **{**TINY_CLIP, **overrides})


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8))


def test_builtin_backbones_are_registered_through_entry_points():
    assert {"open_clip", "timm", "geoclip"} <= set(geoembed.list_image_backbones())


def test_open_clip_random_backbone_encodes_images_and_texts(photo):
    backbone = tiny_open_clip()
    assert isinstance(backbone, ImageBackbone)
    assert backbone.feature_dim == 768 and backbone.image_size == (32, 32) and backbone.weights is None
    pixels = backbone.preprocess(photo)
    assert pixels.shape == (3, 32, 32) and pixels.dtype == torch.float32
    with torch.inference_mode():
        assert backbone.encode(pixels[None]).shape == (1, 768)
        assert backbone.encode_text(["desert", "snow"]).shape == (2, 768)
    with pytest.raises(ValueError, match="non-empty list of strings"):
        backbone.encode_text("desert")


def test_half_precision_backbone_takes_float32_pixels(photo):
    backbone = tiny_open_clip(precision="bf16")
    with torch.inference_mode():
        features = backbone.encode(backbone.preprocess(photo)[None])
    assert features.dtype == torch.bfloat16 and torch.isfinite(features.float()).all()


def test_identity_tells_random_initialisations_apart():
    torch.manual_seed(1)
    first = tiny_open_clip()
    torch.manual_seed(2)
    second = tiny_open_clip()
    assert first.identity == first.identity
    assert first.identity != second.identity


def test_open_clip_loads_a_checkpoint_file_with_the_real_layout(tmp_path, photo):
    from safetensors.torch import save_file

    torch.manual_seed(3)
    original = tiny_open_clip()
    path = tmp_path / "open_clip_model.safetensors"
    save_file({k: v.contiguous() for k, v in original.model.state_dict().items()}, str(path))
    loaded = tiny_open_clip(pretrained=str(path))
    assert sha256_file(path) in loaded.weights
    batch = original.preprocess(photo)[None]
    with torch.inference_mode():
        torch.testing.assert_close(loaded.encode(batch), original.encode(batch))


def test_open_clip_tag_is_read_from_the_hugging_face_cache_offline(tmp_path, monkeypatch, photo):
    """An OpenAI tag found in the HF cache loads offline, with the tag's QuickGELU and preprocessing."""
    import huggingface_hub.constants
    from open_clip.transformer import QuickGELU
    from safetensors.torch import save_file

    torch.manual_seed(4)
    original = tiny_open_clip(force_quick_gelu=True)
    snapshot = tmp_path / "models--timm--vit_large_patch14_clip_224.openai" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("abc123")
    save_file({k: v.contiguous() for k, v in original.model.state_dict().items()},
              str(snapshot / "open_clip_model.safetensors"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))

    loaded = tiny_open_clip(pretrained="openai", model_name="ViT-L-14")
    assert "'openai'" in loaded.weights
    assert any(isinstance(m, QuickGELU) for m in loaded.model.modules())
    assert loaded.mean == pytest.approx((0.48145466, 0.4578275, 0.40821073))
    batch = loaded.preprocess(photo)[None]
    with torch.inference_mode():
        torch.testing.assert_close(loaded.encode(batch), original.encode(batch))


def test_open_clip_tag_missing_offline_says_how_to_get_it(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(WeightsNotFoundError, match="hf download timm/vit_large_patch14_clip_224.openai"):
        tiny_open_clip(pretrained="openai", model_name="ViT-L-14")


def test_open_clip_bad_pretrained_values(tmp_path):
    with pytest.raises(ValueError, match="neither a file nor a pretrained tag"):
        tiny_open_clip(pretrained="no-such-tag")
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        tiny_open_clip(pretrained=str(tmp_path / "missing.safetensors"))
    with pytest.raises(ValueError, match="ambiguous"):
        tiny_open_clip(pretrained=True)
    wrong = tmp_path / "wrong.pt"
    torch.save({"visual.proj": torch.zeros(3, 3)}, wrong)
    with pytest.raises(WeightsError, match="could not load"):
        tiny_open_clip(pretrained=str(wrong))


def test_timm_backbone_any_channel_count():
    backbone = create_image_backbone("timm", model_name="resnet18", in_chans=5)
    assert backbone.feature_dim == 512 and backbone.in_chans == 5
    assert backbone.mean == pytest.approx((0.485, 0.456, 0.406, 0.485, 0.456))
    pixels = backbone.preprocess(np.random.default_rng(0).random((5, 40, 60)).astype(np.float32))
    assert pixels.shape == (5, 224, 224)
    with torch.inference_mode():
        assert backbone.encode(pixels[None]).shape == (1, 512)
    with pytest.raises(ValueError, match="5 channels"):
        backbone.preprocess(np.zeros((3, 40, 60), np.float32))
    with pytest.raises(ValueError, match="PIL image"):
        backbone.preprocess(Image.new("RGB", (8, 8)))


def test_timm_checkpoint_file_is_adapted_to_more_channels(tmp_path):
    import timm

    torch.manual_seed(5)
    rgb = timm.create_model("resnet18", pretrained=False)  # the layout of timm's ImageNet checkpoints
    path = tmp_path / "resnet18.pth"
    torch.save(rgb.state_dict(), path)
    backbone = create_image_backbone("timm", model_name="resnet18", pretrained=str(path), in_chans=4)
    assert backbone.model.conv1.weight.shape == (64, 4, 7, 7)
    torch.testing.assert_close(backbone.model.layer4[1].conv2.weight, rgb.layer4[1].conv2.weight)
    # timm's adaptation repeats the RGB filters and rescales them by 3 / in_chans
    torch.testing.assert_close(backbone.model.conv1.weight[:, 3], rgb.conv1.weight[:, 0] * 3 / 4)
    assert sha256_file(path) in backbone.weights


def test_timm_pretrained_offline_without_cache_fails_clearly(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(WeightsNotFoundError, match="timm/resnet18"):
        create_image_backbone("timm", model_name="resnet18", pretrained=True)
    with pytest.raises(ValueError, match="timm has no model"):
        create_image_backbone("timm", model_name="resnet_does_not_exist")


def test_rgb_transforms_give_ten_crops_and_random_views(photo):
    backbone = tiny_open_clip()
    crops = backbone.ten_crop()(photo)
    assert crops.shape == (10, 3, 32, 32)
    # crop 5 is the top-left corner of the mirrored image: the mirror image of the top-right crop (crop 1)
    torch.testing.assert_close(crops[1].flip(-1), crops[5])
    assert not torch.equal(crops[0], crops[1])
    view = backbone.augment()(photo)
    assert view.shape == (3, 32, 32)


def test_geoclip_image_encoder_uses_the_real_head_and_logit_scale(photo):
    from geoembed_geoclip.weights import IMAGE_HEAD_MP16, LOGIT_SCALE_MP16

    torch.manual_seed(6)
    encoder = create_image_backbone("geoclip", clip_model="ViT-B-32", clip_pretrained=None, **TINY_CLIP)
    published = torch.load(resolve_weights(IMAGE_HEAD_MP16).path, weights_only=True)
    torch.testing.assert_close(encoder.head[2].weight, published["2.weight"])
    scale = torch.load(resolve_weights(LOGIT_SCALE_MP16).path, weights_only=True)
    assert float(encoder.logit_scale) == pytest.approx(float(scale))
    assert encoder.head_weights.name == "geoclip-image-head.mp16"
    assert encoder.feature_dim == 512
    batch = encoder.preprocess(photo)[None]
    with torch.inference_mode():
        features = encoder.encode(batch)
        expected = torch.relu(encoder.clip.encode(batch) @ published["0.weight"].T + published["0.bias"])
        expected = expected @ published["2.weight"].T + published["2.bias"]
        torch.testing.assert_close(features, expected)
        assert encoder.encode_text(["desert"]).shape == (1, 512)


def test_geoclip_image_encoder_rejects_a_clip_of_the_wrong_width():
    with pytest.raises(ValueError, match="768-d CLIP embeddings"):
        create_image_backbone("geoclip", clip_model="ViT-B-32", clip_pretrained=None, **{**TINY_CLIP, "embed_dim": 512})


def test_geoclip_identity_follows_the_head_values():
    import copy

    torch.manual_seed(7)
    published = create_image_backbone("geoclip", clip_model="ViT-B-32", clip_pretrained=None, **TINY_CLIP)
    scale = float(published.logit_scale)

    def unrecorded_copy():  # the same head values, without the published weights record
        return type(published)(published.clip, copy.deepcopy(published.head), scale)

    changed = unrecorded_copy()
    with torch.no_grad():
        changed.head[0].bias.add_(1.0)
    assert unrecorded_copy().identity == unrecorded_copy().identity
    assert changed.identity != unrecorded_copy().identity


def test_geoclip_head_file_of_the_wrong_shape_is_refused(tmp_path):
    path = tmp_path / "head.pth"
    torch.save({"0.weight": torch.zeros(4, 4)}, path)
    with pytest.raises(WeightsError, match="not a GeoCLIP image head"):
        create_image_backbone("geoclip", clip_model="ViT-B-32", clip_pretrained=None, head_weights_path=str(path),
                              **TINY_CLIP)


def tiny_transformers_clip():
    """A transformers CLIPModel with the tiny architecture above (the layout of openai/clip-vit-large-patch14)."""
    from transformers import CLIPConfig, CLIPModel

    config = CLIPConfig(
        projection_dim=768,
        text_config=dict(hidden_size=64, intermediate_size=256, num_attention_heads=2, num_hidden_layers=1,
                         projection_dim=768, max_position_embeddings=77, bos_token_id=0, eos_token_id=2),
        vision_config=dict(hidden_size=64, intermediate_size=256, num_attention_heads=2, num_hidden_layers=1,
                           patch_size=16, image_size=32, projection_dim=768),
    )
    torch.manual_seed(8)
    return CLIPModel(config).eval()


def projected(output) -> torch.Tensor:
    """transformers 4.x returns the projected features, 5.x wraps them (as the GeoCLIP reference also handles)."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


@pytest.fixture(scope="module")
def transformers_checkpoint(tmp_path_factory):
    from safetensors.torch import save_file

    model = tiny_transformers_clip()
    path = tmp_path_factory.mktemp("openai-clip") / "model.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return model, path


def test_a_transformers_clip_checkpoint_gives_the_same_embeddings(transformers_checkpoint, photo):
    """GeoCLIP's reference feeds transformers' get_image_features to its head; open_clip must give the same vectors."""
    reference, path = transformers_checkpoint
    backbone = tiny_open_clip(pretrained=str(path))
    pixels = backbone.preprocess(photo)[None]
    tokens = backbone.tokenizer(["a photo of a desert", "snow"])
    with torch.inference_mode():
        torch.testing.assert_close(backbone.encode(pixels), projected(reference.get_image_features(pixel_values=pixels)),
                                   rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(backbone.encode_text(["a photo of a desert", "snow"]),
                                   projected(reference.get_text_features(input_ids=tokens)), rtol=1e-4, atol=1e-5)


def test_openai_tag_falls_back_to_the_transformers_copy_in_the_cache(transformers_checkpoint, tmp_path, monkeypatch,
                                                                     photo):
    import shutil

    import huggingface_hub.constants

    reference, path = transformers_checkpoint
    snapshot = tmp_path / "models--openai--clip-vit-large-patch14" / "snapshots" / "def456"
    snapshot.mkdir(parents=True)
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("def456")
    shutil.copy(path, snapshot / "model.safetensors")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))

    encoder = create_image_backbone("geoclip", clip_model="ViT-L-14", **TINY_CLIP)  # clip_pretrained="openai"
    assert "models--openai--clip-vit-large-patch14" in encoder.weights
    pixels = encoder.preprocess(photo)[None]
    with torch.inference_mode():
        expected = encoder.head(projected(reference.get_image_features(pixel_values=pixels)))  # the reference's forward
        torch.testing.assert_close(encoder.encode(pixels), expected, rtol=1e-4, atol=1e-5)
