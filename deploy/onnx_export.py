"""A checkpoint -> one ONNX graph from RAW keypoints to embeddings, and its JSON sidecar.

The graph takes ``keypoints`` float32 ``[batch, frames, 54, 2]`` (image coordinates in the layout of
``utils/layout.py``, NaN = not detected) and ``padding_mask`` bool ``[batch, frames]`` (True = padding),
batch and frames dynamic, and returns ``embeddings`` float32 ``[batch, vector_length]``. SPOTER
normalization (``datasets.normalization.normalize_batch``, the same function training uses) is inside the
graph, so a client only maps its landmarks into the layout, as the sidecar describes.
"""
import json
import logging
import warnings
from pathlib import Path

import torch
from torch import nn

from datasets.normalization import normalize_batch
from models.checkpoint import load_model
from utils import layout
from utils.atomic import atomic_path
from utils.errors import DataError
from utils.files import file_sha256
from utils.run_files import write_json

INPUT_NAMES = ("keypoints", "padding_mask")
OUTPUT_NAME = "embeddings"
# The newest opset before 23, whose Attention op onnxruntime's dynamic quantizer mistakes for its own QAttention.
OPSET = 22
SIDECAR_FORMAT = "spoter-embeddings-onnx"
SIDECAR_VERSION = 1


class RawKeypointEmbedder(nn.Module):
    """The embedding model behind the normalization: raw padded clips in, embeddings out."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, keypoints, padding_mask):
        return self.model(normalize_batch(keypoints, padding_mask), padding_mask)


def sidecar_path(onnx_path):
    """The sidecar of ``model.onnx`` is ``model.json`` beside it."""
    return Path(onnx_path).with_suffix(".json")


def int8_path(onnx_path):
    return Path(onnx_path).with_suffix(".int8.onnx")


def load_embedding_model(checkpoint_path):
    """The checkpoint's model in eval mode, or a DataError naming the file when it is no embedding model."""
    try:
        model, checkpoint = load_model(checkpoint_path)
    except (ValueError, FileNotFoundError) as error:
        raise DataError(str(error)) from None
    if checkpoint["config"].get("classification_model"):
        raise DataError(f"{checkpoint_path}: a classifier checkpoint (classification_model=True); "
                        "export needs an embedding model")
    return model, checkpoint


def sidecar(checkpoint_path, checkpoint, quantization=None):
    """The facts a client needs beside the graph: input layout, how MediaPipe maps into it, outputs."""
    config = checkpoint["config"]
    return {
        "format": SIDECAR_FORMAT,
        "format_version": SIDECAR_VERSION,
        "checkpoint": Path(checkpoint_path).name,
        "checkpoint_sha256": file_sha256(checkpoint_path),
        "epoch": checkpoint.get("epoch"),
        "quantization": quantization,
        "opset": OPSET,
        "inputs": [
            {"name": INPUT_NAMES[0], "dtype": "float32", "shape": ["batch", "frames", layout.NUM_KEYPOINTS, 2],
             "meaning": "raw x, y in image coordinates (MediaPipe: 0..1 of the frame); NaN = not detected"},
            {"name": INPUT_NAMES[1], "dtype": "bool", "shape": ["batch", "frames"], "meaning": "True = padding"},
        ],
        "outputs": [{"name": OUTPUT_NAME, "dtype": "float32", "shape": ["batch", config["vector_length"]]}],
        "vector_length": config["vector_length"],
        "normalized_embeddings": config["normalize_embeddings"],
        "distance": "euclidean",
        "keypoint_names": list(layout.KEYPOINT_NAMES),
        "mediapipe_holistic_indices": layout.MEDIAPIPE_HOLISTIC_INDICES.tolist(),
        "mediapipe_holistic_points": {"pose": layout.MEDIAPIPE_POSE_POINTS, "left_hand": layout.MEDIAPIPE_HAND_POINTS,
                                      "right_hand": layout.MEDIAPIPE_HAND_POINTS},
        # Index -1 above: the neck, the midpoint of these two points of the 54-point layout.
        "mediapipe_neck_midpoint_of": [layout.LEFT_SHOULDER, layout.RIGHT_SHOULDER],
        # The skeleton to draw: pairs of indices of the layout above (body, then each hand's finger chains).
        "bones": [list(pair) for pair in layout.BONES],
        "glosses": list(checkpoint.get("class_names") or []),
        "model_config": config,
    }


def _example_inputs(frames=12, batch=2):
    keypoints = torch.rand(batch, frames, layout.NUM_KEYPOINTS, 2)
    padding_mask = torch.zeros(batch, frames, dtype=torch.bool)
    padding_mask[1, frames // 2:] = True
    return keypoints, padding_mask


def export_graph(model, path):
    """Write the ONNX graph of ``RawKeypointEmbedder(model)`` to ``path`` (batch and frames dynamic)."""
    batch, frames = torch.export.Dim("batch", min=1), torch.export.Dim("frames", min=1)
    # The exporter logs every torchvision op it skips and warns about internal renames: noise for users.
    for name in ("torch.onnx._internal.exporter._registration", "onnxscript.optimizer._constant_folding"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            RawKeypointEmbedder(model).eval(), _example_inputs(), dynamo=True, opset_version=OPSET,
            input_names=list(INPUT_NAMES), output_names=[OUTPUT_NAME], external_data=False,
            dynamic_shapes={"keypoints": {0: batch, 1: frames}, "padding_mask": {0: batch, 1: frames}},
            verbose=False,
        )
    program.save(str(path), external_data=False)


def check_outputs(checkpoint_path, output_path, force, int8=False):
    """Refuse, before anything is written, outputs that would replace the checkpoint or (without
    ``force``) existing files."""
    output_path = Path(output_path)
    targets = [output_path, sidecar_path(output_path)]
    if int8:
        targets += [int8_path(output_path), sidecar_path(int8_path(output_path))]
    if output_path.suffix != ".onnx":
        raise DataError(f"--output {output_path}: expected a file name ending in .onnx")
    if any(target.resolve() == Path(checkpoint_path).resolve() for target in targets):
        raise DataError(f"--output {output_path}: would overwrite the checkpoint it exports")
    existing = [str(target) for target in targets if target.exists()]
    if existing and not force:
        raise DataError(f"--output {output_path}: {', '.join(existing)} exist(s); pass --force to replace")


def export(checkpoint_path, output_path):
    """Export ``checkpoint_path`` to ``output_path`` (.onnx) and its sidecar (.json), each written atomically."""
    model, checkpoint = load_embedding_model(checkpoint_path)
    with atomic_path(output_path) as tmp:
        export_graph(model, tmp)
    write_json(sidecar_path(output_path), sidecar(checkpoint_path, checkpoint))
    return Path(output_path)


def quantize_int8(onnx_path):
    """A dynamically quantized (int8 weights of MatMul/Gemm) copy of an export, with its own sidecar."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    output = int8_path(onnx_path)
    quantizer_log = logging.getLogger()  # the quantizer logs to the root logger; keep errors only
    level = quantizer_log.level
    quantizer_log.setLevel(logging.ERROR)
    with atomic_path(output) as tmp:
        quantize_dynamic(str(onnx_path), tmp, weight_type=QuantType.QInt8)
    quantizer_log.setLevel(level)
    document = json.loads(sidecar_path(onnx_path).read_text())
    document["quantization"] = "dynamic int8 (onnxruntime.quantization.quantize_dynamic, QInt8 weights)"
    write_json(sidecar_path(output), document)
    return output


# What a reader of a sidecar relies on beyond its format: the server checks an index against both.
SIDECAR_FIELDS = {"checkpoint_sha256": str, "vector_length": int}


def read_sidecar(onnx_path):
    """The sidecar of an export, refused unless it is one, with the fields of :data:`SIDECAR_FIELDS`."""
    path = sidecar_path(onnx_path)
    if not path.is_file():
        raise DataError(f"{path}: sidecar of {onnx_path} not found (export.py writes it beside the .onnx)")
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError) as error:  # ValueError: not JSON, or not text at all
        raise DataError(f"{path}: not valid JSON ({error})") from None
    found = document.get("format") if isinstance(document, dict) else f"a JSON {type(document).__name__}"
    if found != SIDECAR_FORMAT:
        raise DataError(f"{path}: not a spoter-embeddings ONNX sidecar (format {found!r})")
    wrong = [f"{name} ({kind.__name__})" for name, kind in SIDECAR_FIELDS.items()
             if type(document.get(name)) is not kind]
    if wrong:
        raise DataError(f"{path}: a sidecar needs {', '.join(wrong)}; export the checkpoint again with export.py")
    return document
