"""Running an exported graph with onnxruntime: sessions, batched embedding of raw clips, and the top-1 of
an export measured on evaluate.py's protocol beside the PyTorch model it came from."""
import numpy as np
import torch

from datasets import label_ids
from datasets.clip_dataset import collate, length_buckets
from datasets.splits import signer_or_stratified_split
from deploy.onnx_export import INPUT_NAMES, RawKeypointEmbedder
from retrieval.metrics import known_queries, nearest_class_accuracy
from utils.errors import DataError


def open_session(path, threads=1):
    """A CPU onnxruntime session of ``path`` on ``threads`` threads (intra- and inter-op)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = threads
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def raw_batches(clips, batch_size):
    """``(indices, keypoints, padding_mask)`` numpy batches of RAW clips padded with 0, similar lengths together."""
    for indices in length_buckets([len(clip) for clip in clips], batch_size):
        keypoints, padding_mask, _ = collate([(clips[i], 0) for i in indices])
        yield indices, keypoints.numpy(), padding_mask.numpy()


def _embed_batches(clips, run, batch_size):
    outputs = None
    for indices, keypoints, padding_mask in raw_batches(clips, batch_size):
        result = run(keypoints, padding_mask)
        if outputs is None:
            outputs = np.empty((len(clips), result.shape[1]), dtype=np.float32)
        outputs[indices] = result
    return outputs


def embed_onnx(session, clips, batch_size=64):
    """``[clips, vector_length]`` embeddings of raw ``[frames, 54, 2]`` clips through an onnxruntime session."""
    return _embed_batches(
        clips, lambda keypoints, mask: session.run(None, dict(zip(INPUT_NAMES, (keypoints, mask))))[0], batch_size)


@torch.no_grad()
def embed_torch(model, clips, batch_size=64):
    """The same through the PyTorch model, normalization included (:class:`RawKeypointEmbedder`)."""
    embedder = RawKeypointEmbedder(model).eval()
    return _embed_batches(
        clips, lambda keypoints, mask: embedder(torch.from_numpy(keypoints), torch.from_numpy(mask)).numpy(),
        batch_size)


def default_split(data, held_out_signers=0.2, query_fraction=0.2, seed=379):
    """evaluate.py's default split of ``data`` (held-out signers as queries, or a stratified split for a single
    signer): ``(kept, held_out, by_signer)``; refused when no query has a class among the references, since
    a top-1 of no query would print as a figure."""
    kept, held_out, by_signer = signer_or_stratified_split(
        data.labels, data.signers, held_out_signers, query_fraction, seed)
    if not known_queries(data.labels[held_out], data.labels[kept]).any():
        raise DataError(f"{data.source}: no query clip of its split has a class among the references ({len(data)} "
                        f"clip(s) of {len(np.unique(data.labels))} class(es)); nothing to score")
    return kept, held_out, by_signer


def top1_by_method(data, embedders, held_out_signers=0.2, query_fraction=0.2, seed=379):
    """Nearest-class top-1 of each ``name -> embed(clips)`` on :func:`default_split` of ``data``; returns
    ``(figures, protocol)``."""
    kept, held_out, by_signer = default_split(data, held_out_signers, query_fraction, seed)
    names = sorted(set(data.labels))
    ids = label_ids(data.labels, names)
    clips = [data.clip(i) for i in range(len(data))]
    figures = {}
    for name, embed in embedders.items():
        vectors = embed(clips)
        figures[name] = nearest_class_accuracy(vectors[held_out], ids[held_out], vectors[kept], ids[kept])["top1"]
    protocol = {"split": "held-out signers" if by_signer else "stratified by class",
                "reference_clips": len(kept), "query_clips": len(held_out), "seed": seed}
    return figures, protocol
