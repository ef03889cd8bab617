"""Models, built by :func:`build_model` from a :class:`ModelConfig`, whose plain-dict form checkpoints store.

The defaults are this project's recommended architecture; ``train.sh`` pins the published SPOTER values.
"""
from dataclasses import asdict, dataclass, field, fields

from models.spoter import SPOTERClassifier, SPOTEREmbedding


def _setting(default, help):
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class ModelConfig:
    """Every model setting, its default and its meaning; ``train.py`` makes each one a flag of that name."""

    classification_model: bool = _setting(False, "train the SPOTER classifier instead of an embedding")
    num_classes: int | None = _setting(None, "classifier outputs; default: classes in the data")
    vector_length: int = _setting(64, "embedding size")
    normalize_embeddings: bool = _setting(True, "L2-normalize embeddings")
    hidden_dim: int = _setting(128, "transformer width")
    heads: int = _setting(4, "attention heads")
    encoder_layers: int = _setting(3, "transformer encoder layers")
    decoder_layers: int = _setting(1, "decoder layers (cross-attention only)")
    feedforward_dim: int = _setting(256, "feed-forward width")
    dropout: float = _setting(0.1, "dropout in every transformer and convolution layer")
    norm_first: bool = _setting(True, "pre-LN transformer layers (stable at higher LR); SPOTER normalizes after each block")
    velocity_features: bool = _setting(True, "feed each point's frame-to-frame motion beside its position")
    presence_features: bool = _setting(
        True, "feed a detected/missing flag per point, so a missing hand is not a hand at the centre")
    conv_layers: int = _setting(2, "depthwise temporal convolution blocks before the encoder; 0: none (SPOTER)")
    conv_kernel: int = _setting(5, "frames each temporal convolution spans (odd)")
    hand_shape_features: bool = _setting(
        True, "feed the distances between the points of each hand (its shape, whatever its turn)")
    canonical_handedness: bool = _setting(
        True, "mirror clips whose left hand is seen more than the right, so all sign right-handed")

    @classmethod
    def from_args(cls, args):
        """The model settings among parsed command-line arguments (same names)."""
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls)})

    @classmethod
    def from_dict(cls, config):
        """From a checkpoint's plain dict; a dict of another version of this config is refused by name."""
        known = {f.name for f in fields(cls)}
        missing, unknown = sorted(known - set(config)), sorted(set(config) - known)
        if missing or unknown:
            raise ValueError(f"model config does not match this version: missing {missing}, unknown {unknown}")
        return cls(**config)

    def to_dict(self):
        return asdict(self)


def build_model(config):
    if isinstance(config, dict):
        config = ModelConfig.from_dict(config)
    backbone = {key: value for key, value in config.to_dict().items()
                if key not in ("classification_model", "num_classes", "vector_length", "normalize_embeddings")}
    if config.classification_model:
        return SPOTERClassifier(config.num_classes, **backbone)
    return SPOTEREmbedding(config.vector_length, config.normalize_embeddings, **backbone)
