"""The command a run records is the one that repeats it: built from the values the run used,
not from the process's argv (a test or a notebook calling run() records its own arguments)."""

import shlex
from dataclasses import replace

from training.config import (
    REPO,
    SampleConfig,
    TrainConfig,
    command_line,
    config_command,
    parse_config,
)


def test_config_command_parses_back_to_the_config():
    cfg = TrainConfig(
        labels=str(REPO / "training" / "labels" / "v5" / "labels.csv"),
        out="/elsewhere/run one",  # outside the repository, with a space: kept whole
        epochs=4,
        lr=0.02,
        flip=False,
        pair_kinds="crop/jpeg,crop/gamma",
        model={"blocks": [[8, 2, 1, 1], [44, 22, 2, 1]], "head": 128},
    )
    cmd = config_command("training.train", cfg)
    args = shlex.split(cmd)
    assert args[:3] == ["python", "-m", "training.train"]
    # paths inside the repository are written relative to it: the command runs from its root
    assert "training/labels/v5/labels.csv" in args and str(REPO) not in cmd
    assert "--threads" not in args  # defaults are left out
    back = parse_config(TrainConfig, args[3:])
    assert replace(back, labels=str(REPO / back.labels)) == cfg


def test_a_default_config_records_the_bare_command():
    assert config_command("training.sample", SampleConfig()) == "python -m training.sample"


def test_command_line_leaves_out_unset_flags():
    assert (
        command_line("training.ensemble", "a.csv", REPO / "b.csv", out="o", model=None)
        == "python -m training.ensemble a.csv b.csv --out o"
    )
