"""``tinyfq info``: the model's metadata, ncnn's version, the CPU's features."""

from __future__ import annotations

import argparse
import json


def cmd_info(args: argparse.Namespace) -> int:
    from tinyfq_native import Scorer, _core

    scorer = Scorer(args.model)
    info = dict(scorer.info)
    detector = json.loads(_core.embedded_detector_json())
    facts = {
        "model": args.model or "<embedded default>",
        "version": info.get("version"),
        "input": info.get("input"),
        "alignment_template": info.get("alignment", {}).get("template"),
        "label_model": info.get("label_model"),
        "ncnn": _core.ncnn_version(),
        "cpu_features": _core.cpu_features(),
        "network_kernels": _core.network_kernels(),
        "detector": "{} ({}), {:,} weights, from {} sha256 {}".format(
            detector["name"],
            detector["licence"].split(" (")[0],
            detector["parameters"],
            detector["source"],
            detector["source_sha256"][:12],
        ),
        "image_decoder": _core.have_decoder(),
        "jpeg_decoder": _core.jpeg_decoder(),
        "hardware_workers": _core.hardware_workers(),
    }
    if args.json:
        print(json.dumps(facts | {"metadata": info}, indent=2))
    else:
        for k, v in facts.items():
            print(f"{k:>18}: {v}")
        print(
            f"{'metadata':>18}: "
            + json.dumps(
                {k: v for k, v in info.items() if k not in ("input", "alignment", "calibration")}
            )
        )
        cal = scorer.calibration  # what a score means for recognition, as a table
        print(cal.text() if cal else f"{'calibration':>18}: none in the model's sidecar")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    i = sub.add_parser("info", help="model metadata, ncnn version, CPU features")
    i.add_argument("--model", help="exported model; default: embedded")
    i.add_argument("--json", action="store_true", help="print JSON")
    i.set_defaults(func=cmd_info)
