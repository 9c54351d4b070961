"""Development sessions, run in the current environment (no virtualenvs are made; install the
project first as the README says, and the `lint` extra for the linters):

    nox -s lint      # ruff (lint + format check), mypy --strict (runtime package), clang-format
    nox -s tests     # the pytest suite
    nox -s ctest     # the C++ core alone with plain CMake, warnings as errors, and its ctest
    nox -s sanitize  # the C++ tests under AddressSanitizer + UBSan
    nox -s arm64     # aarch64 cross build, ctest under qemu, tinyfq-score vs x86
    nox -s fuzz      # the fuzz targets, 60 s each (-- --seconds 1800 for the long run)
    nox -s wheels    # manylinux wheels (x86_64, aarch64; CPython 3.9-3.13) + sdist, tested
    nox -s format    # rewrite the tree in the house format
"""

from __future__ import annotations

import subprocess

import nox

nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "tests", "ctest"]


def cxx_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "cpp/*.cpp", "cpp/*.h", "cpp/*.inl", "cpp/include/*", "python/src/*"]
        + ["fuzz/*.cpp"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [f for f in out if f.endswith((".cpp", ".h", ".inl", ".hpp"))]


@nox.session
def lint(session: nox.Session) -> None:
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")  # the runtime package, strict ([tool.mypy] in pyproject.toml)
    session.run("clang-format", "--dry-run", "-Werror", *cxx_files())


@nox.session
def format(session: nox.Session) -> None:
    session.run("ruff", "check", "--fix", ".")
    session.run("ruff", "format", ".")
    session.run("clang-format", "-i", *cxx_files())


@nox.session
def tests(session: nox.Session) -> None:
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def ctest(session: nox.Session) -> None:
    session.run(
        "cmake",
        "-S",
        ".",
        "-B",
        "build/cpp",
        "-G",
        "Ninja",
        "-DCMAKE_BUILD_TYPE=Release",
        "-DTINYFQ_WERROR=ON",
    )
    session.run("cmake", "--build", "build/cpp")
    session.run("ctest", "--test-dir", "build/cpp", "--output-on-failure", "--no-tests=error")


@nox.session
def sanitize(session: nox.Session) -> None:
    """The C++ tests built with AddressSanitizer and UBSan (our code; ncnn as it is)."""
    session.run(
        "cmake",
        "-S",
        ".",
        "-B",
        "build/asan",
        "-G",
        "Ninja",
        "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
        "-DTINYFQ_SANITIZE=ON",
        "-DTINYFQ_BUILD_TOOLS=OFF",
    )
    session.run("cmake", "--build", "build/asan")
    session.run(
        "ctest",
        "--test-dir",
        "build/asan",
        "--output-on-failure",
        "--no-tests=error",
        env={
            "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1:allocator_may_return_null=1",
            "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
        },
    )


@nox.session
def fuzz(session: nox.Session) -> None:
    """Build the fuzz targets (clang, libFuzzer, sanitizers) and run each for a bounded time."""
    session.run("python", "fuzz/run.py", *session.posargs)


@nox.session
def arm64(session: nox.Session) -> None:
    session.run("bash", "scripts/arm64.sh")


@nox.session
def wheels(session: nox.Session) -> None:
    """The sdist and manylinux wheels (tagged manylinux_2_27) into dist/ with zig + auditwheel,
    then their tests (scripts/build-wheels.sh; `nox -s wheels -- --no-test` builds only)."""
    session.run("bash", "scripts/build-wheels.sh", *session.posargs)
