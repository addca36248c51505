"""Weights records of the GeoCLIP reference plugin (the files the ``geoclip`` 1.3 wheel ships)."""

from __future__ import annotations

from geoembed.weights import WeightsRecord

CITATION = (
    "Vivanco Cepeda, V., Nayak, G. K., Shah, M. GeoCLIP: Clip-Inspired Alignment between Locations and Images for "
    "Effective Worldwide Geo-localization. NeurIPS 2023. arXiv:2309.16020"
)
SOURCE = "https://github.com/VicenteVivan/geo-clip (PyPI: geoclip 1.3.0)"
_RAW = "https://github.com/VicenteVivan/geo-clip/raw/main/geoclip/model/weights/"

#: The pretrained location encoder, trained on MP-16 (4.72M geotagged Flickr photos).
LOCATION_ENCODER_MP16 = WeightsRecord(
    name="geoclip.mp16",
    filename="location_encoder_weights.pth",
    sha256="94b80ae3af89fca78539e129dd2929d321247f5ceeeb0a31bc2c31041a253394",
    source=SOURCE,
    license="MIT",
    citation=CITATION,
    package_file=("geoclip", "geoclip/model/weights/location_encoder_weights.pth"),
    url=_RAW + "location_encoder_weights.pth",
    description="GeoCLIP location encoder (EEP + RFF sigma 2^0, 2^4, 2^8 + 3 MLPs, 512-d), trained on MP-16.",
)

#: GeoCLIP's image head (h1, h2: 768 -> 768 -> 512) on top of CLIP ViT-L/14.
IMAGE_HEAD_MP16 = WeightsRecord(
    name="geoclip-image-head.mp16",
    filename="image_encoder_mlp_weights.pth",
    sha256="5342c391eec961796d04d02f2bd670bfa97b34ce32c656d0e0676581103c2c14",
    source=SOURCE,
    license="MIT",
    citation=CITATION,
    package_file=("geoclip", "geoclip/model/weights/image_encoder_mlp_weights.pth"),
    url=_RAW + "image_encoder_mlp_weights.pth",
    description="GeoCLIP image head on CLIP ViT-L/14 features, trained on MP-16.",
)

#: GeoCLIP's learned logit scale (a scalar), for retrieval probabilities.
LOGIT_SCALE_MP16 = WeightsRecord(
    name="geoclip-logit-scale.mp16",
    filename="logit_scale_weights.pth",
    sha256="9568e2e09dd19083082bf285b2c0c126867e40dbd275a8ee8c621888b861904e",
    source=SOURCE,
    license="MIT",
    citation=CITATION,
    package_file=("geoclip", "geoclip/model/weights/logit_scale_weights.pth"),
    url=_RAW + "logit_scale_weights.pth",
    description="GeoCLIP's learned temperature (logit scale).",
)

#: The 100K MP-16 coordinates GeoCLIP uses as its default GPS gallery; geoembed's gallery "mp16" (gallery.py).
GPS_GALLERY_100K = WeightsRecord(
    name="geoclip-gallery.mp16-100k",
    filename="coordinates_100K.csv",
    sha256="3a00b1ba58f13443db726533b6399b39609e292df09d4e58792fa5949d1838b1",
    source=SOURCE,
    license="MIT",
    citation=CITATION,
    package_file=("geoclip", "geoclip/model/gps_gallery/coordinates_100K.csv"),
    url="https://github.com/VicenteVivan/geo-clip/raw/main/geoclip/model/gps_gallery/coordinates_100K.csv",
    description="100,000 MP-16 photo coordinates (LAT, LON columns), GeoCLIP's default gallery.",
)

#: Location encoder weights by tag, for create_location_encoder("geoclip", weights=TAG).
LOCATION_ENCODER_WEIGHTS = {"mp16": LOCATION_ENCODER_MP16}
