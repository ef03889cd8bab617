"""evaluate.py end to end on GENERATED MediaPipe archives whose classes are separable by construction."""
import json

import numpy as np
import pytest
import torch

import evaluate
from datasets import label_ids
from datasets.clip_dataset import ClipDataset
from models import build_model
from models.checkpoint import load_model, save_checkpoint
from retrieval.embedding import embed
from retrieval.metrics import retrieval_scores
from tests.conftest import TINY_MODEL_CONFIG, generated_clip
from utils import layout



def write_generated_npz(path, clips):
    """A GENERATED archive in the shared-data layout. ``clips`` are ``(label, signer, language)``: one
    signer's pose with small noise, the class shown only by where the right wrist is held."""
    rng = np.random.default_rng(len(clips))
    pose = generated_clip(np.random.default_rng(0), 1)
    frames, offsets = [], [0]
    for label, _, _ in clips:
        clip = pose + rng.normal(0, 0.003, size=(int(rng.integers(10, 25)),) + pose.shape[1:]).astype(np.float32)
        position = int(label[-1]) if label[-1].isdigit() else -1
        clip[:, layout.index("rightWrist")] = [0.3 + 0.15 * position, 0.7]
        holistic = np.full((len(clip), layout.MEDIAPIPE_HOLISTIC_POINTS, 2), np.nan, dtype=np.float16)
        mapped = layout.MEDIAPIPE_HOLISTIC_INDICES >= 0
        holistic[:, layout.MEDIAPIPE_HOLISTIC_INDICES[mapped]] = clip[:, mapped]
        frames.append(holistic)
        offsets.append(offsets[-1] + len(clip))
    label, signer, language = (np.array(column) for column in zip(*clips))
    np.savez(path, keypoints=np.concatenate(frames), offsets=np.array(offsets), label=label, label_raw=label,
             signer=signer, language=language, clip=np.array([f"gen/{i}" for i in range(len(clips))]))
    return path


def generated_clips(language, signers, classes=3, per_signer=4):
    return [(f"sign{c}", f"{language}-{s}", language)
            for s in range(signers) for c in range(classes) for _ in range(per_signer)]


@pytest.fixture
def archive(tmp_path):
    """Language AAA: 4 signers, 3 shared glosses and an _idle class; BBB: one signer."""
    clips = generated_clips("AAA", 4) + [("_idle", "AAA-0", "AAA")] * 3 + generated_clips("BBB", 1, per_signer=6)
    return write_generated_npz(tmp_path / "generated.npz", clips)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained tiny model saved as train.py saves one."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "best.pt"
    save_checkpoint(path, config=TINY_MODEL_CONFIG, model=build_model(TINY_MODEL_CONFIG).state_dict(), class_names=["a", "b", "c"])
    return path


def run(capsys, *argv):
    results = evaluate.run(evaluate.get_args_parser().parse_args([str(a) for a in argv]))
    return results, capsys.readouterr().out


def test_held_out_signers_are_the_queries_and_both_methods_are_scored(archive, checkpoint, tmp_path, capsys):
    output = tmp_path / "result.json"
    results, printed = run(capsys, "--checkpoint", checkpoint, "--data", archive, "--language", "AAA",
                           "--held_out_signers", "1", "--baseline", "--json", output, "--seed", "5")
    protocol = results[0]["protocol"]
    assert protocol["cross_signer"] and len(protocol["held_out_signers"]) == 1
    assert protocol["query_signers"] == protocol["held_out_signers"]
    assert not set(protocol["reference_signers"]) & set(protocol["query_signers"])
    assert (protocol["reference_clips"], protocol["query_clips"]) == (36, 12)  # _idle excluded by default
    document = json.loads(output.read_text())
    baseline = document["sets"][0]["methods"]["baseline"]
    assert baseline["top1"] == baseline["mAP"] == baseline["class_accuracy"] == 1.0  # separable by construction
    assert baseline["k_shot"]["1"]["top1"] == 1.0 and set(baseline["per_class_top1"]) == {"sign0", "sign1", "sign2"}
    model = document["sets"][0]["methods"]["model"]
    # the untrained model's figures are exactly those of its embeddings, scored on the protocol's split
    evaluation = evaluate.evaluation_sets(evaluate.get_args_parser().parse_args(
        ["--data", str(archive), "--language", "AAA", "--held_out_signers", "1", "--seed", "5", "--baseline_only"]))[0]
    names = sorted(set(evaluation.reference.labels) | set(evaluation.query.labels))
    ids = [label_ids(part.labels, names) for part in (evaluation.reference, evaluation.query)]
    embedder, _ = load_model(checkpoint)
    reference, query = (embed(embedder, ClipDataset(part, part_ids), "cpu")
                        for part, part_ids in zip((evaluation.reference, evaluation.query), ids, strict=True))
    expected = retrieval_scores(query, ids[1], reference, ids[0])
    assert (model["top1"], model["top5"], model["mAP"]) == pytest.approx((expected["top1"], expected["top5"],
                                                                          expected["mAP"]))
    assert document["settings"]["held_out_signers"] == 1 and document["checkpoint"] == str(checkpoint)
    for header in ("top-1", "top-5", "mAP", "silhouette"):
        assert header in printed
    rows = printed.splitlines()[2:]
    assert len(rows) == 2 and " model " in rows[0] and " baseline " in rows[1]


def test_per_language_splits_by_signer_or_by_class_and_marks_same_signer_sets(archive, capsys):
    results, printed = run(capsys, "--baseline_only", "--data", archive, "--per_language", "--k_shot", "1,2")
    aaa, bbb = results
    assert aaa["name"].endswith("AAA") and aaa["protocol"]["split"] == "held-out signers"
    assert bbb["protocol"]["split"] == "stratified by class" and not bbb["protocol"]["cross_signer"]
    assert bbb["protocol"]["query_clips"] == 3 and set(bbb["methods"]["baseline"]["k_shot"]) == {"1", "2"}
    assert "same signer" in printed and "cross" in printed


def test_reference_and_query_files_and_min_signers(tmp_path, capsys):
    reference = write_generated_npz(tmp_path / "ref.npz", generated_clips("AAA", 2) + [("sign9", "AAA-0", "AAA")] * 2)
    query = write_generated_npz(tmp_path / "query.npz", generated_clips("AAA", 1, per_signer=2))
    results, _ = run(capsys, "--baseline_only", "--reference", reference, "--query", query, "--min_signers", "2")
    protocol = results[0]["protocol"]
    assert protocol["split"] == "reference and query files"
    assert protocol["reference_classes"] == 3  # sign9 has one signer: dropped
    # Both generated files name their signer AAA-0, so the set is not cross-signer.
    assert protocol["scored_queries"] == 6 and not protocol["cross_signer"]


def test_several_languages_in_one_set_keep_their_glosses_apart(archive, capsys):
    results, _ = run(capsys, "--baseline_only", "--data", archive, "--held_out_signers", "2", "--seed", "1")
    classes = set(results[0]["methods"]["baseline"]["per_class_top1"])
    assert classes and all(name.startswith(("AAA: ", "BBB: ")) for name in classes)


def test_plot_is_written(archive, tmp_path, capsys):
    path = tmp_path / "tsne.html"
    results, _ = run(capsys, "--baseline_only", "--data", archive, "--language", "AAA", "--plot", path)
    assert results[0]["plot"] == str(path) and "plotly" in path.read_text()[:100000].lower()


@pytest.mark.parametrize("argv, message", [
    (["--baseline_only"], "either --data"),
    (["--data", "x.npz"], "--checkpoint is required"),
    (["--baseline_only", "--data", "x.npz", "--reference", "r.npz", "--query", "q.npz"], "either --data"),
    (["--baseline_only", "--reference", "r.npz"], "go together"),
    (["--checkpoint", "missing.pt", "--baseline_only", "--data", "x.npz"], "drop --checkpoint"),
    (["--baseline_only", "--data", "x.npz", "--k_shot", "0"], ">= 1"),
])
def test_contradicting_flags_are_refused(argv, message):
    with pytest.raises(evaluate.UsageError, match=message):
        evaluate.check_args(evaluate.get_args_parser().parse_args(argv))


@pytest.mark.parametrize("extra, message", [
    (["--checkpoint", "/nonexistent/best.pt"], "checkpoint not found"),
    (["--baseline_only", "--language", "ZZZ"], "no clips left"),
])
def test_command_line_errors_exit_with_one_line_naming_the_problem(archive, capsys, extra, message):
    with pytest.raises(SystemExit) as stop:
        evaluate.main(["--data", str(archive)] + extra)
    error = capsys.readouterr().err
    assert stop.value.code == 2 and error.startswith("evaluate.py: error: ") and message in error
    assert error.count("\n") == 1 and "Traceback" not in error
