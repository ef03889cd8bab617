"""One way to run a command: hyphen aliases for underscore flags, one-line errors, DataError vs bugs, and the
README naming only flags that exist."""
import re

import pytest

import cross_validate
import evaluate
import export
import preprocess
import search
import serve
import train
from tests.conftest import REPOSITORY
from utils.cli import run_command
from utils.errors import DataError
from utils.settings import add_common


def test_old_hyphenated_spellings_are_aliases_in_every_entry_point():
    assert evaluate.get_args_parser().parse_args(["--batch-size", "7", "--cache-dir=c", "--k-shot", "3"]).batch_size == 7
    assert train.get_args_parser().parse_args(["--batch-size", "7", "--no-normalize-embeddings"]).batch_size == 7
    assert not train.get_args_parser().parse_args(["--no-normalize_embeddings"]).normalize_embeddings
    args = preprocess.get_args_parser().parse_args(["create", "a", "b", "--num-classes", "5", "--test-size", "0"])
    assert (args.num_classes, args.test_size) == (5, 0)
    assert cross_validate.get_args_parser().parse_args(["--baseline-only"]).baseline_only
    args = search.get_args_parser().parse_args(["practice", "a.npz", "--gloss", "hello", "--clip-id", "c1",
                                                "--batch-size", "3", "--cache-dir", "cache"])
    assert (args.clip_id, args.batch_size, args.cache_dir) == ("c1", 3, "cache")
    assert search.get_args_parser().parse_args(["index", "d.csv", "-o", "i.npz", "--exclude-labels", "a,b"]
                                               ).exclude_labels == ["a", "b"]
    args = export.get_args_parser().parse_args(["--checkpoint", "c.pt", "--exclude-labels", "a"])
    assert args.exclude_labels == ["a"]


def search_command(name):
    return search.get_args_parser()._subparsers._group_actions[0].choices[name]


def test_shared_flags_are_defined_once_and_agree():
    parsers = [train.get_args_parser(), evaluate.get_args_parser()]
    for name in ("seed", "device", "cache_dir", "exclude_labels"):
        actions = [next(a for a in parser._actions if a.dest == name) for parser in parsers]
        assert len({a.help for a in actions}) == 1 and len({str(a.default) for a in actions}) == 1, name
    for name, parser in [("exclude_labels", export.get_args_parser()), ("exclude_labels", search_command("index")),
                         ("cache_dir", search_command("query")), ("device", search_command("practice"))]:
        shared = next(a for a in parsers[1]._actions if a.dest == name)
        assert next(a for a in parser._actions if a.dest == name).help == shared.help, (name, parser.prog)
    with pytest.raises(SystemExit):
        evaluate.get_args_parser().parse_args(["--seed", "-1"])


def test_a_data_error_is_one_line_and_any_other_exception_keeps_its_traceback(capsys):
    parser = train.Parser(prog="tool")
    add_common(parser, "seed")

    def refuse(args):
        raise DataError("x.csv: line 3,\ncolumn y: bad")

    with pytest.raises(SystemExit) as stop:
        run_command(refuse, parser, [])
    assert stop.value.code == 2 and capsys.readouterr().err == "tool: error: x.csv: line 3, column y: bad\n"
    assert not issubclass(DataError, ValueError)

    def bug(args):
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        run_command(bug, parser, [])


def test_bad_flag_values_are_one_line_naming_flag_and_range(capsys):
    for argv, message in [(["--lr", "nan"], "argument --lr: 'nan': expected a finite number in (0, 1e+06]"),
                          (["--heads", "5"], "--heads 5: expected a divisor of --hidden_dim 128"),
                          (["--batch_size", "2"], "--batch_size 2: expected at least 3"),
                          (["--seed", "-1"], "expected an integer in [0, 2147483647]"),
                          (["--validation_signers", "0"], "a whole count >= 1 or a fraction in (0, 1)")]:
        with pytest.raises(SystemExit) as stop:
            run_command(train.main, train.get_args_parser(), argv + ["--output_dir", "/nonexistent/never"])
        error = capsys.readouterr().err
        assert stop.value.code == 2 and message in error and error.count("\n") == 1, (argv, error)


@pytest.mark.parametrize("main, argv, message", [
    (search.main, ["query", "clips.npz", "--batch_size", "0"], "--batch_size: '0': expected an integer >= 1"),
    (search.main, ["practice", "a.npz", "--gloss", "g", "--references", "-1"], "argument --references: '-1'"),
    (search.main, ["query", "clips.npz", "--device", "gpu"], "argument --device: 'gpu': expected auto, cpu"),
    (export.main, ["--checkpoint", "absent.pt", "--output", "m.onnx"], "absent.pt: checkpoint not found"),
])
def test_search_and_export_end_bad_input_in_one_line_as_every_command(capsys, main, argv, message):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    error = capsys.readouterr().err
    assert stop.value.code == 2 and message in error and error.count("\n") == 1, error


def test_the_readme_names_only_flags_that_exist():
    known = set()
    parsers = [train.get_args_parser(), evaluate.get_args_parser(), cross_validate.get_args_parser(),
               export.get_args_parser(), serve.get_args_parser()]
    commands = [command for script in (preprocess, search)
                for command in script.get_args_parser()._subparsers._group_actions[0].choices.values()]
    for parser in parsers + commands:
        known |= {option.lstrip("-").replace("-", "_") for action in parser._actions for option in action.option_strings}
    named = set(re.findall(r"(?<![\w-])--([a-z][a-z0-9_-]*)", (REPOSITORY / "README.md").read_text()))
    other_tools = {"build-arg", "gpus", "ipc", "import-offline-session", "no-",  # docker, clearml-task, --no-<flag>
                   "nnodes", "nproc_per_node", "rdzv_backend", "rdzv_endpoint", "rdzv_id", "standalone",  # torchrun
                   "array", "cpus-per-task", "job-name", "mem", "requeue", "time",  # SLURM
                   "steps", "mining_steps", "sizes", "frames", "backends", "eval",  # the benchmark scripts
                   "fold", "checks"}  # python -m results.letter_confusions, python -m results.fold_breakdown
    unknown = {flag for flag in named - other_tools if flag.replace("-", "_") not in known}
    assert not unknown, f"README names flags no command has: {sorted(unknown)}"
