"""Atheris (libFuzzer for Python) target: the landmarks file parser of `tinyfq score
--landmarks FILE` (tinyfq_native.landmarks). The first byte picks CSV or JSON lines, the rest is
the file's bytes; every input must end in a table or a ValueError, anything else is a finding.

    python fuzz/fuzz_landmarks.py [libFuzzer options] CORPUS_DIR...   (fuzz/run.py runs it)
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from tinyfq_native.landmarks import parse_landmarks


def one_input(data: bytes) -> None:
    if not data:
        return
    jsonl = data[0] & 1 == 1
    try:
        text = data[1:].decode("utf-8")
    except UnicodeDecodeError:
        return  # read_landmarks' own check, before the parser
    try:
        table = parse_landmarks(text, "fuzz", jsonl=jsonl)
    except ValueError:
        return
    for value in table.values():  # what the scorer is promised
        assert value.shape == (5, 2) and value.dtype.name == "float32"


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
