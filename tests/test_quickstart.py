"""The README's quick start, run as written in a fresh copy of the repository.

The copy holds what a clone of the next commit would hold: the files git tracks plus the untracked ones it does
not ignore (``git ls-files --cached --others --exclude-standard``), so uncommitted work is tested too, and
nothing built or downloaded (no ``out-checkpoints/``, no ``web/node_modules``, no parsed-data cache). The
commands of the first fenced block under "## Quick start" run one after the other in that copy, each as
written, except ``pip install`` lines (this environment is the installed one, and a test must not reach the
network). The quick start needs nothing beside the repository, so the test does not read ``../shared/data``.

Then what the README says they print must be what they print: every line of the indented example output in
that section appears in the commands' output, and the validation top-1 the README quotes for the training
run is the first and last epoch's of ``metrics.jsonl``.
"""
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
README = REPOSITORY / "README.md"
COMMAND_TIMEOUT = 1200  # seconds; the training run takes about two minutes on two CPU cores


def quick_start_section(text):
    """The README's "## Quick start" section, up to the next second-level heading."""
    match = re.search(r"^## Quick start\n(.*?)(?=^## )", text, flags=re.M | re.S)
    assert match, "README.md has no '## Quick start' section"
    return match.group(1)


def quick_start_commands(section):
    """The first fenced block of the section, one command a line (a trailing backslash continues a line),
    without blank lines, comments and ``pip install``."""
    match = re.search(r"^```[a-z]*\n(.*?)^```", section, flags=re.M | re.S)
    assert match, "the quick start has no fenced block of commands"
    commands = []
    for line in match.group(1).replace("\\\n", " ").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and not line.startswith("pip install"):
            commands.append(line)
    return commands


def example_output(section):
    """The indented lines of the section (4 spaces) outside fenced blocks: output the README shows the
    commands printing."""
    prose = re.sub(r"```.*?```", "", section, flags=re.DOTALL)
    return [line[4:].rstrip() for line in prose.splitlines() if line.startswith("    ") and line.strip()]


def fresh_copy(destination):
    """Copy what a clone of the next commit holds into ``destination``."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPOSITORY, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPOSITORY / name
        if source.is_file():  # a tracked file deleted in the working tree is not in the next commit
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def test_quick_start_section_is_runnable_as_written():
    """The parsing the slow test relies on: a block of commands that train, search and score."""
    section = quick_start_section(README.read_text())
    commands = quick_start_commands(section)
    assert any(command.startswith("python train.py") for command in commands)
    assert any(command.startswith("python search.py query") for command in commands)
    assert any(command.startswith("python search.py practice") for command in commands)
    assert example_output(section), "the quick start shows no example output to check"


@pytest.mark.slow
def test_quick_start_runs_on_a_fresh_copy(tmp_path):
    if shutil.which("git") is None or not (REPOSITORY / ".git").exists():
        pytest.skip("not a git checkout: the files of a fresh clone cannot be listed")
    section = quick_start_section(README.read_text())
    clone = tmp_path / "clone"
    clone.mkdir()
    fresh_copy(clone)
    printed = []
    for command in quick_start_commands(section):
        result = subprocess.run(["bash", "-c", command], cwd=clone, capture_output=True, text=True,
                                timeout=COMMAND_TIMEOUT)
        assert result.returncode == 0, f"{command!r} failed ({result.returncode}):\n{result.stderr[-3000:]}"
        printed.append(result.stdout)
        if command.startswith("python search.py query"):  # one short line per clip, not thousands
            assert len(result.stdout.splitlines()) <= 40, f"{command!r} printed {len(result.stdout.splitlines())} lines"
    output = "\n".join(printed)
    for line in example_output(section):
        assert line in output, f"the README shows {line!r}, which the quick start no longer prints:\n{output}"

    metrics = [json.loads(line) for line in
               (clone / "out-checkpoints" / "spoter_embeddings" / "metrics.jsonl").read_text().splitlines() if line]
    first, last = f"{metrics[0]['val_top1']:.3f}", f"{metrics[-1]['val_top1']:.3f}"
    prose = " ".join(section.split())
    assert f"from {first} after the first epoch to {last} after the last" in prose, (
        f"the README's training figures are not what the run printed: validation top-1 {first} -> {last}")
