"""Models, built from a plain config dict (the same dict a checkpoint stores) by :func:`build_model`."""
from models.spoter import SPOTERClassifier, SPOTEREmbedding

MODEL_CONFIG_KEYS = (
    "classification_model", "num_classes", "vector_length", "normalize_embeddings", "hidden_dim",
    "heads", "encoder_layers", "decoder_layers", "feedforward_dim", "dropout", "norm_first",
)


def model_config(args):
    """The plain-value subset of the arguments that defines the model (stored in checkpoints)."""
    return {key: getattr(args, key) for key in MODEL_CONFIG_KEYS}


def build_model(config):
    backbone = dict(
        hidden_dim=config["hidden_dim"], heads=config["heads"], encoder_layers=config["encoder_layers"],
        decoder_layers=config["decoder_layers"], feedforward_dim=config["feedforward_dim"],
        dropout=config["dropout"], norm_first=config["norm_first"],
    )
    if config["classification_model"]:
        return SPOTERClassifier(config["num_classes"], **backbone)
    return SPOTEREmbedding(config["vector_length"], config["normalize_embeddings"], **backbone)
