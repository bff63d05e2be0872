"""`cmake --install` gives a usable package: a C++ consumer finds it with find_package(lrem),
links lrem::lrem and runs the full flow; the installed Python package imports and works. The
build tree is a package too (find_package(lrem) with -Dlrem_DIR=<build>)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    build = os.environ.get("LREM_BINARY_DIR")
    if not build:
        pytest.skip("*** SKIPPED: LREM_BINARY_DIR (the build tree to install) is not set ***")
    prefix = tmp_path_factory.mktemp("prefix")
    subprocess.run(["cmake", "--install", build, "--prefix", str(prefix)], check=True, capture_output=True)
    return prefix


def items_file(tmp_path):
    path = tmp_path / "items.jsonl"
    path.write_text('{"id": 1, "title": "Red Electric Kettle"}\n{"id": 2, "title": "Toy Dump Truck"}\n'
                    '{"id": 3, "title": "Wool Cardigan"}\n')
    return path


def check_cpp_consumer(cmake_args, model_dir, tmp_path):
    """Configures and builds examples/cpp with `cmake_args`, then runs its search_catalogue."""
    build = tmp_path / "consumer"
    r = subprocess.run(["cmake", "-S", REPO / "examples" / "cpp", "-B", build, *cmake_args], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run(["cmake", "--build", build, "-j2"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    run = subprocess.run([build / "search_catalogue", model_dir, items_file(tmp_path), "toy for a child", "2"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("cot: ")
    assert len(lines) == 3 and all(len(line.split("\t")) == 3 for line in lines[1:])
    bad = subprocess.run([build / "search_catalogue", tmp_path / "missing", items_file(tmp_path), "q"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "does not exist" in bad.stderr


def test_cpp_consumer_builds_against_the_installed_tree(prefix, lrem_model_dir, tmp_path):
    assert (prefix / "include" / "lrem" / "lrem.h").is_file()
    check_cpp_consumer([f"-DCMAKE_PREFIX_PATH={prefix}"], lrem_model_dir, tmp_path)


def test_cpp_consumer_builds_against_the_build_tree(lrem_model_dir, tmp_path):
    build = os.environ.get("LREM_BINARY_DIR")
    if not build:
        pytest.skip("*** SKIPPED: LREM_BINARY_DIR (the build tree to use) is not set ***")
    check_cpp_consumer([f"-Dlrem_DIR={build}"], lrem_model_dir, tmp_path)


def test_installed_python_package_and_cli_work(prefix, lrem_model_dir, tmp_path):
    site = next(prefix.glob("lib/python3*/dist-packages"))
    code = ("import lrem; m = lrem.Model.load(%r); e = lrem.Embedder(m); "
            "print(e.embed_items(['Wool Cardigan']).shape)" % str(lrem_model_dir))
    env = dict(os.environ, PYTHONPATH=str(site))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "(1, 64)"
    cli = subprocess.run([prefix / "bin" / "lrem", "--version"], capture_output=True, text=True)
    assert cli.returncode == 0 and "lrem" in cli.stdout
