"""Hostile model files (issue "Hostile input"): sidecars, weights and graphs that do not belong
together, damaged or crafted, each refused with a clear RuntimeError instead of a crash or a
wrong score. Loads that crashed the process run in a child."""

import shutil
import struct

import numpy as np
import pytest

from tests.hostile import MODELS, child
from tinyfq_native import Scorer


def test_deeply_nested_sidecar_is_refused():
    r = child("""
        from tinyfq_native import Scorer
        param = open("cpp/models/plain.ncnn.param").read()
        weights = open("cpp/models/plain.ncnn.bin", "rb").read()
        try:
            Scorer.from_memory(param, weights, '{"input": ' + "[" * 40000)
        except RuntimeError as e:
            print("RuntimeError:", e)
    """)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "nested more than 32 levels" in r.stdout


@pytest.mark.parametrize("cut", ["empty", "100 bytes", "one float short", "extra bytes"])
def test_weights_that_do_not_fit_the_graph_are_refused(cut):
    param = (MODELS / "plain.ncnn.param").read_text()
    weights = (MODELS / "plain.ncnn.bin").read_bytes()
    sidecar = (MODELS / "plain.json").read_text()
    bad = {
        "empty": b"",
        "100 bytes": weights[:100],
        "one float short": weights[:-4],
        "extra bytes": weights + b"\0" * 8,
    }[cut]
    r = child(f"""
        import json
        from tinyfq_native import Scorer
        param = open("cpp/models/plain.ncnn.param").read()
        weights = open("cpp/models/plain.ncnn.bin", "rb").read()
        bad = {{"empty": b"", "100 bytes": weights[:100], "one float short": weights[:-4],
               "extra bytes": weights + bytes(8)}}[{cut!r}]
        with open("cpp/models/plain.json") as f:
            meta = json.load(f)
        for sidecar in (json.dumps(meta), json.dumps({{k: v for k, v in meta.items()
                                                        if k != "weights"}})):
            try:   # with the recorded size, and as an older export without it
                Scorer.from_memory(param, bad, sidecar)
            except RuntimeError as e:
                print("RuntimeError:", e)
    """)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "the sidecar records 55220" in r.stdout
    # without the record, the bounded reader still finds that the weights do not fit
    assert ("end before" if cut != "extra bytes" else "left over") in r.stdout
    # the real weights still load (the check is not simply refusing everything)
    assert (
        0
        < Scorer.from_memory(param, weights, sidecar).score(np.full((64, 64, 3), 128, np.uint8))
        < 1
    )
    del bad


def test_a_layer_asking_for_more_weights_than_the_file_holds_is_refused(tmp_path):
    for name in ("plain.ncnn.bin", "plain.json"):
        shutil.copy(MODELS / name, tmp_path / name)
    param = (MODELS / "plain.ncnn.param").read_text()
    assert " 6=324" in param
    (tmp_path / "plain.ncnn.param").write_text(param.replace(" 6=324", " 6=3240", 1))
    r = child(f"""
        from tinyfq_native import Scorer
        try:
            Scorer({str(tmp_path / "plain.json")!r})
        except RuntimeError as e:
            print("RuntimeError:", e)
    """)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "RuntimeError:" in r.stdout


def _load_error_in_child(sidecar) -> str:
    """Load a model in a child (a regression may crash it); the RuntimeError's message."""
    r = child(f"""
        from tinyfq_native import Scorer
        try:
            Scorer({str(sidecar)!r})
        except RuntimeError as e:
            print("RuntimeError:", e)
    """)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("RuntimeError:"), r.stdout
    return r.stdout


def _model_dir(tmp_path, graph="plain", weights_from=None, **sidecar_changes):
    """A copy of a committed model with its sidecar changed and/or another graph's weights."""
    import json

    meta = json.loads((MODELS / f"{graph}.json").read_text())
    for path, value in sidecar_changes.items():
        node = meta
        *keys, last = path.split("__")
        for k in keys:
            node = node[k]
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    d = tmp_path / "model"
    d.mkdir(exist_ok=True)
    (d / "m.json").write_text(json.dumps(meta))
    shutil.copy(MODELS / f"{graph}.ncnn.param", d / "m.ncnn.param")
    shutil.copy(MODELS / f"{weights_from or graph}.ncnn.bin", d / "m.ncnn.bin")
    return d / "m.json"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"weights_from": "default"}, "bytes; the sidecar records"),  # fused .bin, plain graph
        ({"input__size": 1024}, "does not match the graph's input"),
        ({"input__size": 63.9}, "is not a whole number"),
        ({"input__size": 6.66667e80}, "is out of range"),  # fuzz_model: a float-cast overflow
        ({"input__mean": [1e300, 0, 0]}, "not a usable number"),
        ({"input__std": [1e-30, 1e-30, 1e-30]}, "input.std"),
        ({"input__mean": [1e9, 1e9, 1e9]}, "input.mean"),
    ],
)
def test_model_files_that_do_not_belong_together_are_refused(tmp_path, change, message):
    with pytest.raises(RuntimeError, match=message):
        Scorer(_model_dir(tmp_path, **change))


def test_a_damaged_weights_file_is_refused_by_its_digest(tmp_path):
    path = _model_dir(tmp_path)
    weights = bytearray((path.parent / "m.ncnn.bin").read_bytes())
    weights[1000] ^= 0x40  # one bit, same size
    (path.parent / "m.ncnn.bin").write_bytes(bytes(weights))
    with pytest.raises(RuntimeError, match="SHA-256"):
        Scorer(path)
    # a sidecar that records no weights (an older export) still loads its own file
    old = tmp_path / "old"
    old.mkdir()
    legacy = _model_dir(old, weights=None)
    assert 0 < Scorer(legacy).score(np.full((64, 64, 3), 128, np.uint8)) < 1


def test_the_committed_models_load_and_agree(tmp_path):
    crop = np.full((80, 80, 3), 120, np.uint8)
    assert Scorer(MODELS / "plain.json").score(crop) == pytest.approx(
        Scorer().score(crop), abs=1e-5
    )


def test_fused_layers_refuse_channel_counts_whose_weights_would_overflow(tmp_path):
    """A fused-graph .param asking for 70,000 channels (70,000² x 9 weights passes INT_MAX) is
    refused when loaded, not read with a wrapped-around size."""
    models = MODELS
    text = (models / "default.ncnn.param").read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith("TinyfqBlock"))
    fields = line.split()
    big = " ".join(f.replace("1=", "1=70000", 1) if f.startswith("1=") else f for f in fields)
    assert big != line
    for suffix in (".ncnn.bin", ".json"):
        shutil.copy(models / f"default{suffix}", tmp_path / f"m{suffix}")
    (tmp_path / "m.ncnn.param").write_text(text.replace(line, big, 1))
    with pytest.raises(RuntimeError, match="param"):
        Scorer(tmp_path / "m.ncnn.param")


@pytest.mark.parametrize(
    "old, new, message",
    [
        # conv28 made for 48 inputs and 128 outputs (its input has 24 channels), and fc for 384
        # inputs: the same number of weights in all, so the .bin and its digest still fit
        (
            ("Convolution              conv28           1 1 b31 b32 0=256", " 2=256 9=4"),
            ("Convolution              conv28           1 1 b31 b32 0=128", " 2=384 9=4"),
            "conv28 (Convolution): it has 6144 weights; its 24 input channels need 3072",
        ),
        # a depthwise layer in 4 groups: 396 weights stand for 11 x 11 x 9 x 4 = 4356
        ((" 6=396 7=44",), (" 6=396 7=4",), "dw17 (ConvolutionDepthWise): it has 396 weights"),
        # fuzz_model: a fused Mish (9=5), a layer this build lacks, was a null layer (SEGV)
        ((" 6=72 7=8 9=1",), (" 6=72 7=8 9=5",), "dw2 (ConvolutionDepthWise): fused activation 5"),
        # ncnn keeps a float's bits where an integer is expected
        ((" 6=324 ",), (" 6=324.0 ",), "conv0 (Convolution): parameter 6 must be an integer"),
    ],
)
def test_a_graph_whose_weights_do_not_fit_its_shapes_is_refused(tmp_path, old, new, message):
    """Found by fuzz/fuzz_model.cpp: a .param whose layer sizes disagree with the shapes
    flowing into them, with the total weight count unchanged (so the .bin's size and digest
    still match), made ncnn read past the weights during the load-time test forward (ASAN:
    heap-buffer-overflow in InnerProduct). The graph's shapes are checked before it runs."""
    path = _model_dir(tmp_path)
    param = (path.parent / "m.ncnn.param").read_text()
    for a, b in zip(old, new):
        assert a in param
        param = param.replace(a, b, 1)
    (path.parent / "m.ncnn.param").write_text(param)
    assert message in _load_error_in_child(path)


def test_int8_weights_are_refused_not_read_as_floats(tmp_path):
    """Found by fuzz/fuzz_model.cpp: a .bin whose first block is tagged int8 (0x000D4B38), with
    its sidecar's size and digest matching, loaded as 1-byte values that ncnn's float
    Convolution read as floats while preparing the layer (ASAN: heap-buffer-overflow in
    convolution_im2col_pack_A_tile)."""
    import hashlib
    import json

    path = _model_dir(tmp_path)
    bin_path = path.parent / "m.ncnn.bin"
    plain = bin_path.read_bytes()
    assert plain[:4] == bytes(4)  # conv0's 324 weights as float32, then the rest
    weights = bytes(324) + plain[4 + 324 * 4 :]
    bad = struct.pack("<I", 0x000D4B38) + weights
    bin_path.write_bytes(bad)
    meta = json.loads(path.read_text())
    meta["weights"] = {"bytes": len(bad), "sha256": hashlib.sha256(bad).hexdigest()}
    path.write_text(json.dumps(meta))
    assert "a block of int8 weights" in _load_error_in_child(path)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"input__blob": "b33"}, "one Input layer, writing the sidecar's input blob b33"),
        ({"output__blob": "nowhere"}, "no layer writes the sidecar's output blob nowhere"),
    ],
)
def test_a_sidecar_naming_blobs_the_graph_does_not_feed_that_way_is_refused(
    tmp_path, change, message
):
    """Found by fuzz/fuzz_model.cpp: a sidecar whose input blob is the classifier's input (b33)
    made the scorer feed the 3x64x64 image there, and ncnn's InnerProduct read 12,288 weights
    from a layer that has 256 (ASAN: heap-buffer-overflow)."""
    path = _model_dir(tmp_path, **change)
    assert message in _load_error_in_child(path)
