"""training.soup: the weighted mean of fine-tunes' weights."""

from __future__ import annotations

import pytest
import torch

from training.model import ModelArgs, TinyFQNet
from training.soup import main, soup


def _ckpt(path, seed: int, args: ModelArgs | None = None):
    torch.manual_seed(seed)
    m = TinyFQNet(args)
    for mod in m.modules():  # BatchNorm statistics differ per run too
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-1, 1)
            mod.running_var.uniform_(0.5, 2)
            mod.num_batches_tracked.fill_(seed + 1)
    ckpt = {"model_args": m.args.to_dict(), "state_dict": m.state_dict(), "version": "x"}
    torch.save(ckpt, path)
    return ckpt


def test_soup_is_the_weighted_mean_of_every_float_tensor(tmp_path):
    a = _ckpt(tmp_path / "a.pt", 0)
    b = _ckpt(tmp_path / "b.pt", 1)
    s = soup([tmp_path / "a.pt", tmp_path / "b.pt"], [0.25, 0.75])
    differ = [k for k, v in a["state_dict"].items() if not torch.equal(v, b["state_dict"][k])]
    assert len(differ) > len(a["state_dict"]) // 2  # the two runs really differ
    for k, v in s["state_dict"].items():
        if v.is_floating_point():
            want = 0.25 * a["state_dict"][k] + 0.75 * b["state_dict"][k]
            assert torch.allclose(v, want), k
        else:  # counters are not averaged
            assert torch.equal(v, a["state_dict"][k])
    assert [i["weight"] for i in s["training"]["soup"]] == [0.25, 0.75]
    # the result loads into the model and scores
    m = TinyFQNet(ModelArgs.from_dict(s["model_args"]))
    m.load_state_dict(s["state_dict"])
    m.eval()
    assert m(torch.rand(2, 3, 64, 64)).shape[0] == 2


def test_soup_refuses_other_architectures_and_bad_weights(tmp_path):
    _ckpt(tmp_path / "a.pt", 0)
    _ckpt(tmp_path / "b.pt", 1, ModelArgs(head=128))
    with pytest.raises(ValueError, match="another architecture"):
        soup([tmp_path / "a.pt", tmp_path / "b.pt"])
    _ckpt(tmp_path / "c.pt", 2)
    with pytest.raises(ValueError, match="sum to 1"):
        soup([tmp_path / "a.pt", tmp_path / "c.pt"], [0.5, 0.6])
    with pytest.raises(ValueError, match="2 checkpoints"):
        soup([tmp_path / "a.pt", tmp_path / "c.pt"], [1.0])
    with pytest.raises(ValueError, match="at least two"):
        soup([tmp_path / "a.pt"])


def test_cli_writes_a_checkpoint_and_says_which_file_is_missing(tmp_path, capsys):
    _ckpt(tmp_path / "a.pt", 0)
    _ckpt(tmp_path / "b.pt", 1)
    argv = [str(tmp_path / "a.pt"), str(tmp_path / "b.pt"), "--out", str(tmp_path / "s")]
    out = main(argv)
    record = torch.load(out, weights_only=False)["training"]
    assert out.is_file() and len(record["soup"]) == 2
    assert record["command"] == "python -m training.soup " + " ".join(argv)
    with pytest.raises(SystemExit):
        main([str(tmp_path / "a.pt"), str(tmp_path / "nope.pt"), "--out", str(tmp_path / "t")])
    assert "nope.pt: no such checkpoint" in capsys.readouterr().err
