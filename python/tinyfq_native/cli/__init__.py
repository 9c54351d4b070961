"""The ``tinyfq`` command: score folders of face images, keep the best frames, print model
facts. Each subcommand is a module of this package with a ``register`` function.

tinyfq score PATH... [-r] [-o out.csv|out.jsonl [--resume]] [--workers N]
             [--landmarks FILE] [--detect [--all-faces] [--detect-size N]]
tinyfq select DIR -k K [-o out.csv] [--copy-to OUT | --link-to OUT] [--detect]
tinyfq video INPUT... -o OUTDIR [-k K] [--every N] [--detect-size N] [--min-face PX]
             [--save-frames] [--resume]
tinyfq info

Exit status: 0 when every input was scored or had no face, 1 when an input failed (its row
says why), 2 for a usage or set-up error (an output that cannot be written included), 130
when interrupted, 141 when stdout's reader went away (``| head``).
"""

from __future__ import annotations

import argparse
import os
import sys

from tinyfq_native.cli import info, report, score, select, video
from tinyfq_native.cli.common import EXIT_HELP, Diagnostics, expand, say
from tinyfq_native.cli.output import OutputError, ResumeError, silence_stdout

__all__ = ["build_parser", "expand", "main"]

SUBCOMMANDS = (score, select, video, info, report)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tinyfq",
        description="Face image quality for recognition (tinyFQnet through ncnn).",
        epilog=EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True)
    for command in SUBCOMMANDS:
        command.register(sub)
    return p


def _fill_closed_std_fds() -> None:
    """Point a closed descriptor 0, 1 or 2 at /dev/null, so that a file this run opens (the
    output) cannot take its number and receive what is meant for stdout or stderr."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            try:
                null = os.open(os.devnull, os.O_RDWR)
                if null != fd:
                    os.dup2(null, fd)
                    os.close(null)
            except OSError:
                pass


def main(argv: list[str] | None = None) -> int:
    """Run ``tinyfq``; returns the exit status (see EXIT_HELP). Diagnostics go to stderr
    and are dropped when it cannot take them; nothing but rows goes to stdout."""
    _fill_closed_std_fds()
    stderr = sys.stderr
    sys.stderr = Diagnostics(stderr)
    command = "?"
    try:
        args = build_parser().parse_args(argv)
        command = args.command
        status: int = args.func(args)
        if sys.stdout is not None:
            sys.stdout.flush()
        return status
    except SystemExit as e:  # argparse's usage errors and --help, set-up errors: the status
        return e.code if isinstance(e.code, int) else int(e.code is not None)
    except BrokenPipeError:  # stdout's reader is gone (| head): stop quietly
        silence_stdout()
        return 141
    except ResumeError as e:
        say(command, f"cannot resume {e.name}: {e}")
        return 2
    except OutputError as e:
        if e.name == "<stdout>":
            silence_stdout()
        say(command, f"cannot write {e.name}: {e}")
        return 2
    finally:
        sys.stderr = stderr
