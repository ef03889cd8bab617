"""Models, built by :func:`build_model` from a :class:`ModelConfig`, whose plain-dict form checkpoints store;
:mod:`models.checkpoint` saves and loads them (``load_model``, release checkpoints).

The defaults are this project's recommended architecture; ``recipes/published.txt`` pins the published SPOTER
values.
"""
from dataclasses import dataclass

from models.spoter import SPOTERClassifier, SPOTEREmbedding
from utils import settings
from utils.settings import Range, Settings, at_least, setting

_LAYERS = at_least(1)


@dataclass(frozen=True)
class ModelConfig(Settings):
    """Every model setting, its default, its meaning and accepted values; ``train.py`` makes each one a flag
    of that name. Values are validated when a config is made (from flags or from a checkpoint)."""

    WHAT = "model config"

    classification_model: bool = setting(False, "train the SPOTER classifier instead of an embedding")
    num_classes: int | None = setting(None, "classifier outputs; default: classes in the data",
                                      at_least(2, also=(None,)))
    vector_length: int = setting(64, "embedding size", _LAYERS)
    normalize_embeddings: bool = setting(True, "L2-normalize embeddings")
    hidden_dim: int = setting(128, "transformer width (a multiple of --heads)", _LAYERS)
    heads: int = setting(4, "attention heads", _LAYERS)
    encoder_layers: int = setting(3, "transformer encoder layers", _LAYERS)
    decoder_layers: int = setting(1, "decoder layers (cross-attention only)", _LAYERS)
    feedforward_dim: int = setting(256, "feed-forward width", _LAYERS)
    dropout: float = setting(0.1, "dropout in every transformer and convolution layer", Range(0, 1, high_open=True))
    norm_first: bool = setting(True, "pre-LN transformer layers (stable at higher LR); SPOTER normalizes after "
                                     "each block")
    velocity_features: bool = setting(True, "feed each point's frame-to-frame motion beside its position")
    presence_features: bool = setting(
        True, "feed a detected/missing flag per point, so a missing hand is not a hand at the centre")
    conv_layers: int = setting(2, "depthwise temporal convolution blocks before the encoder; 0: none (SPOTER)",
                               at_least(0))
    conv_kernel: int = setting(5, "frames each temporal convolution spans (odd)", at_least(1))
    hand_shape_features: bool = setting(
        True, "feed the distances between the points of each hand (its shape, whatever its turn)")
    canonical_handedness: bool = setting(
        True, "mirror clips whose left hand is seen more than the right, so all sign right-handed")
    fixed_frames: int = setting(20, "resample every clip to this many frames (linear in time) before anything else, "
                                    "so that its length does not tell its recording source; 0: as they come",
                                at_least(0))

    ADDED_LATER = {"fixed_frames": 0}
    REMOVED = {"pooled_hands": False, "palm_scaled_hands": False}

    def __post_init__(self):
        settings.validate(self)
        if self.hidden_dim % self.heads:
            settings.refuse("heads", self.heads, f"a divisor of --hidden_dim {self.hidden_dim}")
        if self.conv_kernel % 2 == 0:
            settings.refuse("conv_kernel", self.conv_kernel, "an odd number of frames")


def build_model(config):
    if isinstance(config, dict):
        config = ModelConfig.from_dict(config)
    backbone = {key: value for key, value in config.to_dict().items()
                if key not in ("classification_model", "num_classes", "vector_length", "normalize_embeddings")}
    if config.classification_model:
        return SPOTERClassifier(config.num_classes, **backbone)
    return SPOTEREmbedding(config.vector_length, config.normalize_embeddings, **backbone)
