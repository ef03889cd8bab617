"""Search and practice: the backends and the score on hand-made and GENERATED inputs, and search.py on the
real clips of ../shared/data with the bundled pretrained model."""
import json

import numpy as np
import pytest
import torch

import search
from datasets import read_signs
from datasets.formats.spoter_csv import write_spoter_csv
from models import build_model
from models.checkpoint import load_model, save_checkpoint, save_release
from retrieval.embedding import embed_signs, hands_detected
from retrieval.confidence import match_verdict, verdict_thresholds
from retrieval.feedback import CALIBRATION_KEYS
from retrieval.index import REQUIRED_KEYS, SignIndex, build_index, load_index, save_index
from retrieval.metrics import rank_classes
from retrieval.neighbours import FaissSearch, TorchSearch, choose_backend, nearest_classes
from retrieval.practice import assess, other_gloss_distances, practice_score, score_quantiles
from retrieval.references import ARRAY_KEYS as REFERENCE_KEYS
from tests.conftest import ASL_NPZ, REPOSITORY, SHARED_DATA, TINY_MODEL_CONFIG, generated_sign_data, requires
from utils import layout
from utils.errors import DataError
from utils.files import file_sha256

KSL_NPZ = SHARED_DATA / "signs" / "ksl.npz"
OTHER_NPZ = SHARED_DATA / "signs" / "other.npz"
PRETRAINED_MODEL = REPOSITORY / "pretrained" / "model.pt"
PRETRAINED_INDEX = REPOSITORY / "pretrained" / "index.npz"


def unit_vectors(rng, count, dim=16):
    vectors = rng.standard_normal((count, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


# ---- backends and ranking (GENERATED vectors) ----

def test_torch_and_faiss_find_the_same_neighbours_at_the_same_distances():
    rng = np.random.default_rng(0)
    vectors, queries = unit_vectors(rng, 5000), unit_vectors(rng, 40)
    exact = np.linalg.norm(queries[:, None] - vectors[None], axis=2)
    for backend in (TorchSearch(vectors), FaissSearch(vectors)):
        distances, indices = backend.search(queries, 10)
        np.testing.assert_array_equal(indices, np.argsort(exact, axis=1)[:, :10])
        np.testing.assert_allclose(distances, np.sort(exact, axis=1)[:, :10], atol=1e-4)


def test_gloss_ranking_of_both_backends_is_the_ranking_over_every_clip():
    rng = np.random.default_rng(1)
    vectors, queries = unit_vectors(rng, 3000, dim=8), unit_vectors(rng, 30, dim=8)
    classes = rng.integers(0, 40, len(vectors))
    # 200 clips of class 0 packed around the first query: its first candidates hold one class only.
    vectors[:200] = queries[0] + 0.001 * rng.standard_normal((200, 8)).astype(np.float32)
    classes[:200] = 0
    expected = rank_classes(queries, vectors, classes, 7).numpy()
    for backend in (TorchSearch(vectors), FaissSearch(vectors)):
        order, distances = nearest_classes(backend, classes, 40, queries, 7)
        np.testing.assert_array_equal(order, expected)
        assert (np.diff(distances, axis=1) >= 0).all()
        for row in range(len(queries)):
            nearest = [np.linalg.norm(vectors[classes == c] - queries[row], axis=1).min() for c in order[row]]
            np.testing.assert_allclose(distances[row], nearest, atol=1e-4)


def test_auto_backend_is_faiss_for_large_indexes_asked_few_queries():
    assert choose_backend("auto", 2_000, 1) == "torch"
    assert choose_backend("auto", 200_000, 1) == "faiss"
    assert choose_backend("auto", 200_000, 500) == "torch"
    assert choose_backend("torch", 200_000, 1) == "torch"
    with pytest.raises(DataError, match="--backend"):
        choose_backend("annoy", 10, 1)


# ---- the practice score (hand-made inputs) ----

def test_score_is_the_share_of_other_gloss_distances_beyond_the_attempt():
    quantiles = np.linspace(1.0, 2.0, 101)
    assert practice_score(0.5, quantiles) == 100.0
    assert practice_score(1.5, quantiles) == pytest.approx(50.0)
    assert practice_score(1.9, quantiles) == pytest.approx(10.0)
    assert practice_score(3.0, quantiles) == 0.0
    assert (np.diff(practice_score(np.linspace(0, 3, 50), quantiles)) <= 0).all()


def test_other_gloss_distances_skip_the_same_gloss_and_the_same_signer():
    points = np.array([[0.0], [1.0], [3.0], [7.0]])
    glosses = np.array(["a", "a", "b", "b"])
    # nearest clip of another gloss: 0 -> 3, 1 -> 3, 3 -> 1, 7 -> 1
    np.testing.assert_allclose(other_gloss_distances(points, glosses), [3, 2, 2, 6])
    # clips 1 and 2 by one signer: they may not match each other
    signers = np.array(["s", "t", "t", "u"])
    np.testing.assert_allclose(other_gloss_distances(points, glosses, signers), [3, 6, 3, 6])
    # one signer only is as good as unknown: nobody else to compare with
    np.testing.assert_allclose(other_gloss_distances(points, glosses, np.array(["s"] * 4)), [3, 2, 2, 6])
    assert score_quantiles(points, glosses)[[0, 50, 100]].tolist() == [2.0, 2.5, 6.0]


def line_index(sha="0" * 64, vector=2):
    """Four glosses on a line, each signed once by "s" and once by "t", 0.1 apart; the glosses lie 1, 2 and 3
    apart, so a clip's nearest other gloss by the other signer lies 0.9 to 3.1 away."""
    positions = np.array([0.0, 0.1, 1.0, 1.1, 3.0, 3.1, 6.0, 6.1])
    embeddings = np.zeros((len(positions), vector), dtype=np.float32)
    embeddings[:, 0] = positions
    labels, signers = np.repeat(["a", "b", "c", "d"], 2), np.array(["s", "t"] * 4)
    return SignIndex(embeddings=embeddings, labels=labels, clip_ids=np.array([f"c{i}" for i in range(8)]),
                     model_sha256=sha, config=dict(TINY_MODEL_CONFIG), signers=signers,
                     score_quantiles=score_quantiles(embeddings, labels, signers))


def test_a_query_far_from_every_gloss_is_flagged_and_a_near_one_is_not():
    index = line_index()
    # Other-gloss distances 0.9, 0.9, 1.1, 1.1, 1.9, 2.1, 2.9, 3.1: their 10% quantile 0.9, their median 1.5.
    assert verdict_thresholds(index.score_quantiles) == pytest.approx((0.9, 1.5))
    queries = np.array([[0.05, 0.0], [4.5, 0.0], [6.05, 1.6], [-10.0, 0.0], [3.0, 40.0]], dtype=np.float32)
    glosses, distances = index.nearest_glosses(queries, 1)
    verdicts = [match_verdict(d, index.score_quantiles) for d in distances[:, 0]]
    # Between two clips of "a"; 1.4 from "c" (closer than half, not 90%, of different-sign pairs); 1.6 beside
    # "d"; far from every gloss, on the line and off it.
    assert glosses[:, 0].tolist() == ["a", "c", "d", "a", "c"]
    assert verdicts == ["match", "uncertain", "unknown", "unknown", "unknown"]
    assert match_verdict(np.inf, index.score_quantiles) == match_verdict(np.nan, index.score_quantiles) == "unknown"


# ---- the index file (GENERATED clips) ----

def generated_index(sha="0" * 64, signers=3):
    data = generated_sign_data(np.random.default_rng(0), classes=3, per_class=6, signers=signers)
    embeddings = unit_vectors(np.random.default_rng(1), len(data), 8)
    return build_index(embeddings, data, data.labels, sha, TINY_MODEL_CONFIG), data


def test_index_file_holds_exactly_the_contract_arrays_and_reads_back(tmp_path):
    index, data = generated_index()
    path = save_index(index, tmp_path / "index.npz")
    with np.load(path, allow_pickle=False) as file:
        # Beside the contract arrays: the reference clips and the per-part feedback's calibration.
        assert set(file.files) == set(REQUIRED_KEYS) | {"signers"} | set(REFERENCE_KEYS) | set(CALIBRATION_KEYS)
        assert file["embeddings"].dtype == np.float32 and file["score_quantiles"].shape == (101,)
        assert json.loads(str(file["config"])) == TINY_MODEL_CONFIG
    loaded = load_index(path, "0" * 64)
    np.testing.assert_array_equal(loaded.embeddings, index.embeddings)
    np.testing.assert_array_equal(loaded.signers, data.signers)
    assert loaded.labels.tolist() == data.labels.tolist() and loaded.clip_ids.tolist() == data.clip_ids.tolist()
    unknown, _ = generated_index(signers=None)
    with np.load(save_index(unknown, tmp_path / "unknown.npz")) as file:
        assert "signers" not in file.files


def test_index_of_another_model_and_damaged_files_are_refused(tmp_path):
    index, _ = generated_index()
    path = save_index(index, tmp_path / "index.npz")
    with pytest.raises(DataError, match="built by another model"):
        load_index(path, "f" * 64, "other.pt")
    (tmp_path / "half.npz").write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match="not a readable index"):
        load_index(tmp_path / "half.npz")
    np.savez(tmp_path / "clips.npz", embeddings=np.zeros((2, 3), np.float32))
    with pytest.raises(DataError, match="not an index file"):
        load_index(tmp_path / "clips.npz")


def test_saving_never_replaces_an_input_or_an_existing_file_unasked(tmp_path):
    index, _ = generated_index()
    existing = tmp_path / "index.npz"
    existing.write_bytes(b"keep me")
    with pytest.raises(DataError, match="--overwrite"):
        save_index(index, existing)
    with pytest.raises(DataError, match="is an input"):
        save_index(index, existing, overwrite=True, inputs=[existing])
    assert existing.read_bytes() == b"keep me"
    save_index(index, existing, overwrite=True)
    assert len(load_index(existing)) == len(index)
    assert [p.name for p in tmp_path.iterdir()] == ["index.npz"]  # no temporary file left


# ---- naming a gloss (hand-made labels) ----

def labelled_index(labels, sha="0" * 64, vector=8):
    """An index of one clip per label (GENERATED vectors): what matters here is its labels."""
    labels = np.asarray(labels, dtype=str)
    return SignIndex(embeddings=unit_vectors(np.random.default_rng(2), len(labels), vector), labels=labels,
                     clip_ids=np.array([f"c{i}" for i in range(len(labels))]), model_sha256=sha,
                     config=dict(TINY_MODEL_CONFIG), score_quantiles=np.linspace(0.5, 2.0, 101, dtype=np.float32))


def test_a_gloss_is_found_whatever_its_case_and_without_its_language():
    index = labelled_index(["hello", "good job", "Thanks", "LSM: hola", "PSL: hola", "BISINDO: makan", "MAKAN"])
    assert index.resolve_gloss("hello") == "hello"
    assert index.resolve_gloss("Hello") == index.resolve_gloss("HELLO") == "hello"
    assert index.resolve_gloss("GOOD JOB") == "good job" and index.resolve_gloss("thanks") == "Thanks"
    assert index.resolve_gloss("lsm: HOLA") == "LSM: hola"
    assert index.resolve_gloss("makan") == "MAKAN"  # a label itself, case aside, before a language's gloss
    assert index.gloss_matches("hola") == ["LSM: hola", "PSL: hola"] and index.resolve_gloss("hola") is None
    assert index.gloss_matches("helo") == [] and index.resolve_gloss("helo") is None
    both = labelled_index(["hello", "Hello"])
    assert both.resolve_gloss("Hello") == "Hello" and both.gloss_matches("HELLO") == ["Hello", "hello"]


def test_the_closest_glosses_are_those_spelled_alike():
    index = labelled_index([f"sign{i:03d}" for i in range(80)] + ["hello", "yellow", "help", "LSM: hola"])
    assert index.closest_glosses("Helo")[:2] == ["hello", "help"]
    assert index.closest_glosses("HOLA") == ["LSM: hola"]
    assert len(index.closest_glosses("sign01", count=3)) == 3
    assert index.closest_glosses("zzzzzzzz") == []


# ---- search.py practice: naming a gloss, with the pretrained model (a GENERATED attempt) ----

@pytest.fixture
def attempt(tmp_path):
    """One GENERATED clip with hands, as a SPOTER CSV: what practice needs besides a gloss."""
    path = tmp_path / "attempt.csv"
    write_spoter_csv(generated_sign_data(np.random.default_rng(3), classes=1, per_class=1), path)
    return path


def test_practice_takes_a_gloss_in_any_case(attempt, tmp_path):
    output = tmp_path / "practice.json"
    run_search("practice", attempt, "--gloss", "HeLLo", "--index", PRETRAINED_INDEX, "--checkpoint",
               PRETRAINED_MODEL, "--json", output)
    result = json.loads(output.read_text())
    assert result["gloss"] == "hello" and 0 <= result["score"] <= 100


def test_practice_with_an_unknown_gloss_lists_every_gloss_of_a_small_index(attempt, capsys):
    glosses = load_index(PRETRAINED_INDEX).glosses.tolist()
    assert len(glosses) <= search.MAX_LISTED_GLOSSES
    code, line = exit_line(capsys, "practice", attempt, "--gloss", "no-such-sign", "--index", PRETRAINED_INDEX,
                           "--checkpoint", PRETRAINED_MODEL)
    assert code == 2 and f"{PRETRAINED_INDEX}: no clip of gloss 'no-such-sign' (--gloss)" in line
    assert line.endswith(f"its {len(glosses)} glosses: " + ", ".join(glosses))


def test_practice_with_an_unknown_gloss_suggests_the_closest_of_a_large_index(attempt, tmp_path, capsys):
    labels = [f"word{i:03d}" for i in range(search.MAX_LISTED_GLOSSES)] + ["hello", "help", "yellow"]
    vector = torch.load(PRETRAINED_MODEL, weights_only=True)["config"]["vector_length"]
    path = save_index(labelled_index(labels, file_sha256(PRETRAINED_MODEL), vector), tmp_path / "large.npz")
    code, line = exit_line(capsys, "practice", attempt, "--gloss", "Helo", "--index", path,
                           "--checkpoint", PRETRAINED_MODEL)
    assert code == 2 and "no clip of gloss 'Helo' (--gloss)" in line
    assert line.endswith(f"the closest of its {len(labels)} glosses: hello, help, yellow")
    code, line = exit_line(capsys, "practice", attempt, "--gloss", "qqqqqq", "--index", path,
                           "--checkpoint", PRETRAINED_MODEL)
    assert code == 2 and line.endswith(f"none of its {len(labels)} glosses is spelled like it")


def test_practice_with_a_gloss_of_several_languages_names_them(attempt, tmp_path, capsys):
    vector = torch.load(PRETRAINED_MODEL, weights_only=True)["config"]["vector_length"]
    index = labelled_index(["LSM: hola", "PSL: hola", "LSM: comer"], file_sha256(PRETRAINED_MODEL), vector)
    path = save_index(index, tmp_path / "languages.npz")
    code, line = exit_line(capsys, "practice", attempt, "--gloss", "Hola", "--index", path,
                           "--checkpoint", PRETRAINED_MODEL)
    assert code == 2 and "--gloss 'Hola' names 2 glosses (LSM: hola, PSL: hola); pass the one meant" in line


def test_query_says_no_sign_i_know_beside_a_clip_far_from_every_gloss(attempt, tmp_path, capsys):
    """The same attempt queried in an index around its own embedding, then in one on the far side of the
    sphere: the first nearest gloss is a match, the second is flagged."""
    model, _ = load_model(PRETRAINED_MODEL)
    own = embed_signs(model, read_signs(attempt), "cpu")[0]
    sha, rng = file_sha256(PRETRAINED_MODEL), np.random.default_rng(4)
    for name, centre, verdict, text in (("near", own, "match", "match"), ("far", -own, "unknown", "no sign I know")):
        # Four glosses by two signers, 0.2 or so around the centre: different signs lie that close here.
        offsets = 0.1 * unit_vectors(rng, 8, len(own))
        offsets[0] = 0  # the "near" index holds the attempt itself
        index = line_index(sha, len(own))
        index.embeddings = (centre + offsets).astype(np.float32)
        index.score_quantiles = score_quantiles(index.embeddings, index.labels, index.signers)
        path = save_index(index, tmp_path / f"{name}.npz")
        run_search("query", attempt, "--index", path, "--checkpoint", PRETRAINED_MODEL, "--json")
        document = json.loads(capsys.readouterr().out)
        assert document["clips"][0]["verdict"] == verdict
        assert document["verdict_from"]["unknown"] == pytest.approx(float(index.score_quantiles[50]))
        run_search("query", attempt, "--index", path, "--checkpoint", PRETRAINED_MODEL)
        header, _, row = capsys.readouterr().out.splitlines()
        assert header.split()[:3] == ["clip", "label", "verdict"] and f"  {text}  " in row


# ---- search.py on real clips with the pretrained model ----

def npz_subset(source, indices, path, drop_hands=()):
    """Some clips of a shared-data archive (real clips), in the same format; the clips at positions
    ``drop_hands`` lose their hands, as when MediaPipe finds none."""
    with np.load(source) as file:
        arrays = {key: file[key] for key in file.files}
    offsets = arrays["keypoints"], arrays["offsets"]
    frames = [offsets[0][offsets[1][i]:offsets[1][i + 1]].copy() for i in indices]
    for position in drop_hands:
        frames[position][:, layout.MEDIAPIPE_POSE_POINTS:] = np.nan
    per_clip = {key: value[indices] for key, value in arrays.items() if key not in ("keypoints", "offsets")}
    np.savez(path, keypoints=np.concatenate(frames),
             offsets=np.concatenate([[0], np.cumsum([len(c) for c in frames])]), **per_clip)
    return path


def run_search(*argv):
    search.main([str(a) for a in argv])


def exit_line(capsys, *argv):
    """Run search.py expecting a refusal: the exit code and its one error line."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        run_search(*argv)
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("search.py: error: ")]
    assert len(errors) == 1
    return stop.value.code, errors[0]


@pytest.fixture(scope="module")
def ksl_index(tmp_path_factory):
    """search.py index over the real ksl.npz with the bundled model."""
    path = tmp_path_factory.mktemp("ksl") / "ksl_index.npz"
    run_search("index", KSL_NPZ, "-o", path, "--checkpoint", PRETRAINED_MODEL)
    return path


@requires(KSL_NPZ)
def test_index_of_ksl_names_its_model_and_every_clip(ksl_index):
    index = load_index(ksl_index, file_sha256(PRETRAINED_MODEL))
    data = read_signs(KSL_NPZ)
    kept = hands_detected(data)
    assert len(index) == kept.sum() > 2000
    assert index.clip_ids.tolist() == data.clip_ids[kept].tolist()
    assert sorted(index.glosses) == sorted(np.unique(data.labels))
    assert index.config == torch.load(PRETRAINED_MODEL, weights_only=True)["config"]
    assert (np.diff(index.score_quantiles) >= 0).all() and index.score_quantiles[0] > 0


@requires(KSL_NPZ)
def test_query_finds_each_indexed_clip_itself_and_ranks_glosses(ksl_index, tmp_path, capsys):
    clips = npz_subset(KSL_NPZ, np.arange(0, 2400, 150), tmp_path / "some_ksl.npz")
    run_search("query", clips, "--index", ksl_index, "--checkpoint", PRETRAINED_MODEL, "-k", "3", "--json")
    results = json.loads(capsys.readouterr().out)["clips"]
    labels = read_signs(clips).labels
    assert len(results) == len(labels) == 16
    for record, label in zip(results, labels):
        nearest = record["nearest"]
        assert [n["gloss"] for n in nearest][0] == label and nearest[0]["distance"] < 1e-3
        assert len({n["gloss"] for n in nearest}) == 3
        assert [n["distance"] for n in nearest] == sorted(n["distance"] for n in nearest)
    run_search("query", clips, "--index", ksl_index, "--checkpoint", PRETRAINED_MODEL, "-k", "2")
    table = capsys.readouterr().out.splitlines()
    assert len(table) == 2 + 16 and "gloss 2 (distance)" in table[0]


@requires(OTHER_NPZ)
def test_query_and_practice_zero_shot_on_other_languages(tmp_path, capsys):
    """Index BISINDO's clips of two signers; a third signer's clip is the attempt, practice scores it."""
    with np.load(OTHER_NPZ) as file:
        language, signer, label = file["language"], file["signer"], file["label"]
    bisindo = np.flatnonzero(language == "BISINDO")
    held_out = sorted(np.unique(signer[bisindo]))[0]
    others = signer[bisindo] != held_out
    reference = npz_subset(OTHER_NPZ, bisindo[others], tmp_path / "bisindo_refs.npz")
    queries = bisindo[~others & np.isin(label[bisindo], label[bisindo][others])]
    index_path = tmp_path / "bisindo_index.npz"
    run_search("index", reference, "-o", index_path, "--checkpoint", PRETRAINED_MODEL)
    attempt = npz_subset(OTHER_NPZ, queries[:1], tmp_path / "attempt.npz")
    gloss = str(label[queries[0]])
    run_search("practice", attempt, "--gloss", gloss, "--index", index_path, "--checkpoint", PRETRAINED_MODEL,
               "--json", tmp_path / "practice.json")
    result = json.loads((tmp_path / "practice.json").read_text())
    assert result["gloss"] == gloss and 0 <= result["score"] <= 100
    assert result["nearest_glosses"][0]["distance"] <= result["distance"] + 1e-6
    assert [r["signer"] for r in result["references"]] and held_out not in [r["signer"] for r in result["references"]]
    assert result["references"][0]["distance"] == pytest.approx(result["distance"], abs=1e-5)
    run_search("practice", attempt, "--gloss", gloss, "--index", index_path, "--checkpoint", PRETRAINED_MODEL)
    assert f"as {gloss!r}: score {result['score']:.0f}/100" in capsys.readouterr().out
    code, line = exit_line(capsys, "practice", attempt, "--gloss", "no-such-sign", "--index", index_path,
                           "--checkpoint", PRETRAINED_MODEL)
    assert code == 2 and "no clip of gloss 'no-such-sign'" in line and str(index_path) in line


@requires(OTHER_NPZ)
def test_other_languages_keep_their_glosses_apart_in_the_index(tmp_path):
    path = tmp_path / "other_index.npz"
    run_search("index", OTHER_NPZ, "-o", path, "--checkpoint", PRETRAINED_MODEL)
    index = load_index(path)
    languages = {label.split(": ")[0] for label in index.labels}
    assert {"BISINDO", "LSM", "PSL"} <= languages and all(": " in label for label in index.labels)
    words = [label.split(": ", 1)[1] for label in index.glosses]
    single = next(word for word in words if words.count(word) == 1)
    shared = next(word for word in words if words.count(word) > 1)
    assert index.resolve_gloss(single).endswith(f": {single}") and index.resolve_gloss(shared) is None


@requires(ASL_NPZ)
def test_a_correct_sign_by_another_signer_scores_above_a_different_sign():
    """Real ASL clips of signers the pretrained model and its index never saw (not the four MIT sources),
    scored as the gloss they are and as another gloss of the index."""
    index = load_index(PRETRAINED_INDEX)
    model, _ = load_model(PRETRAINED_MODEL)
    data = read_signs(ASL_NPZ)
    unseen = np.flatnonzero(np.isin(data.labels, index.glosses) & ~np.isin(data.signers, np.unique(index.signers)))
    rng = np.random.default_rng(0)
    attempts = data.subset(np.sort(rng.choice(unseen, 300, replace=False)))
    attempts = attempts.subset(np.flatnonzero(hands_detected(attempts)))
    assert len(np.unique(attempts.signers)) >= 10
    embeddings = embed_signs(model, attempts, "cpu")
    glosses = index.glosses
    right, wrong = [], []
    for embedding, gloss in zip(embeddings, attempts.labels):
        other = glosses[(np.searchsorted(glosses, gloss) + rng.integers(1, len(glosses))) % len(glosses)]
        right.append(assess(index, embedding, gloss, k=1)["score"])
        wrong.append(assess(index, embedding, other, k=1)["score"])
    right, wrong = np.array(right), np.array(wrong)
    assert right.mean() > wrong.mean() + 30
    assert (right > wrong).mean() > 0.75


# ---- refusals of search.py ----

@requires(KSL_NPZ)
def test_an_index_of_another_model_is_refused_in_one_line(ksl_index, tmp_path, capsys):
    torch.manual_seed(0)
    other = tmp_path / "other.pt"
    save_checkpoint(other, config=TINY_MODEL_CONFIG, model=build_model(TINY_MODEL_CONFIG).state_dict(), class_names=[])
    clips = npz_subset(KSL_NPZ, [0, 1], tmp_path / "two.npz")
    code, line = exit_line(capsys, "query", clips, "--index", ksl_index, "--checkpoint", other)
    assert code == 2 and "built by another model" in line and str(other) in line


@requires(KSL_NPZ)
def test_a_clip_without_hands_is_refused_for_practice_and_reported_by_query(ksl_index, tmp_path, capsys):
    handless = npz_subset(KSL_NPZ, [5], tmp_path / "handless.npz", drop_hands=[0])
    gloss = str(read_signs(handless).labels[0])
    code, line = exit_line(capsys, "practice", handless, "--gloss", gloss, "--index", ksl_index,
                           "--checkpoint", PRETRAINED_MODEL)
    assert code == 2 and "no hand detected" in line and str(handless) in line
    mixed = npz_subset(KSL_NPZ, [5, 6], tmp_path / "mixed.npz", drop_hands=[0])
    code, line = exit_line(capsys, "practice", mixed, "--gloss", gloss, "--index", ksl_index,
                           "--checkpoint", PRETRAINED_MODEL)
    assert code == 2 and "holds 2 clips" in line and "--clip_id" in line
    capsys.readouterr()
    run_search("query", mixed, "--index", ksl_index, "--checkpoint", PRETRAINED_MODEL, "--json")
    first, second = json.loads(capsys.readouterr().out)["clips"]
    assert first["error"] == "no hand detected in any frame" and "nearest" not in first
    assert second["nearest"][0]["distance"] < 1e-3


@requires(KSL_NPZ)
def test_index_never_overwrites_its_input_or_an_existing_file(tmp_path, capsys):
    source = npz_subset(KSL_NPZ, np.arange(0, 2400, 100), tmp_path / "clips.npz")
    original = source.read_bytes()
    code, line = exit_line(capsys, "index", source, "-o", source, "--checkpoint", PRETRAINED_MODEL, "--overwrite")
    assert code == 2 and "is an input" in line and source.read_bytes() == original
    output = tmp_path / "index.npz"
    output.write_bytes(b"an earlier index")
    code, line = exit_line(capsys, "index", source, "-o", output, "--checkpoint", PRETRAINED_MODEL)
    assert code == 2 and "--overwrite" in line and output.read_bytes() == b"an earlier index"
    checkpoint_bytes = PRETRAINED_MODEL.read_bytes()
    code, _ = exit_line(capsys, "index", source, "-o", PRETRAINED_MODEL, "--checkpoint", PRETRAINED_MODEL)
    assert code == 2 and PRETRAINED_MODEL.read_bytes() == checkpoint_bytes
    run_search("index", source, "-o", output, "--checkpoint", PRETRAINED_MODEL, "--overwrite")
    assert len(load_index(output)) == 24


@requires(KSL_NPZ)
def test_json_output_never_replaces_an_input(ksl_index, tmp_path, capsys):
    clip = npz_subset(KSL_NPZ, [3], tmp_path / "attempt.npz")
    original = clip.read_bytes()
    for command in (["query", clip], ["practice", clip, "--gloss", read_signs(clip).labels[0]]):
        code, line = exit_line(capsys, *command, "--index", ksl_index, "--checkpoint", PRETRAINED_MODEL,
                               "--json", clip)
        assert code == 2 and "--json" in line and "is an input" in line
    assert clip.read_bytes() == original


def test_pretrained_checkpoint_is_small_and_loads_with_weights_only():
    checkpoint = torch.load(PRETRAINED_MODEL, weights_only=True)
    assert PRETRAINED_MODEL.stat().st_size < 2_000_000
    assert set(checkpoint) <= {"format_version", "config", "model", "class_names", "epoch"}
    assert {t.dtype for t in checkpoint["model"].values() if t.is_floating_point()} == {torch.float16}
    model, _ = load_model(PRETRAINED_MODEL)
    assert next(model.parameters()).dtype == torch.float32
    assert load_index(PRETRAINED_INDEX, file_sha256(PRETRAINED_MODEL)).embeddings.shape[1] == \
        checkpoint["config"]["vector_length"]


def test_a_release_checkpoint_has_the_same_bytes_whenever_it_is_written(tmp_path):
    """Its sha256 names the model in every index: the same weights must give the same hash."""
    torch.manual_seed(0)
    source = tmp_path / "best.pt"
    save_checkpoint(source, config=TINY_MODEL_CONFIG, model=build_model(TINY_MODEL_CONFIG).state_dict(),
                    class_names=["a"], epoch=3, optimizer={"state": {}})
    first, second = save_release(source, tmp_path / "one.pt"), save_release(source, tmp_path / "two.pt")
    assert file_sha256(first) == file_sha256(second)
    release = torch.load(first, weights_only=True)
    assert "optimizer" not in release and release["epoch"] == 3
    assert all(t.dtype == torch.float16 for t in release["model"].values() if t.is_floating_point())


def test_an_index_of_several_files_holds_every_clip_of_each(tmp_path, capsys):
    parts = []
    for seed, name in ((0, "one.csv"), (1, "two.csv")):
        data = generated_sign_data(np.random.default_rng(seed), classes=2, per_class=3, signers=3)
        write_spoter_csv(data, tmp_path / name)
        parts.append(read_signs(tmp_path / name))
    path = tmp_path / "index.npz"
    run_search("index", f"{tmp_path / 'one.csv'},{tmp_path / 'two.csv'}", "-o", path, "--checkpoint", PRETRAINED_MODEL)
    index = load_index(path)
    assert index.clip_ids.tolist() == [*parts[0].clip_ids, *parts[1].clip_ids]
    # A signer name both files use is two people: each keeps his own, prefixed by his file.
    assert "one/signer0" in index.signers and "two/signer0" in index.signers
    code, line = exit_line(capsys, "index", f"{tmp_path / 'one.csv'},{tmp_path / 'two.csv'}", "-o",
                           tmp_path / "two.csv", "--checkpoint", PRETRAINED_MODEL, "--overwrite")
    assert code == 2 and "two.csv" in line
    assert read_signs(tmp_path / "two.csv").clip_ids.tolist() == parts[1].clip_ids.tolist()
