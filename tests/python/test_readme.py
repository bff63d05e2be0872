"""The README's examples run as written (with its placeholder paths pointed at test data),
and its C++ snippet is the code of examples/cpp/search_catalogue.cpp, which test_install builds."""

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def blocks(lang):
    return re.findall(r"```%s\n(.*?)```" % lang, README, flags=re.S)


def test_python_examples_run(lrem_model_dir, stories_dir, tmp_path, capsys):
    items = tmp_path / "items.jsonl"
    items.write_text('{"id": 1, "title": "Toy Dump Truck"}\n{"id": 2, "title": "Sulfate-Free Shampoo"}\n'
                     '{"id": 3, "title": "Red Kettle"}\n{"id": 4, "title": "Wool Cardigan"}\n'
                     '{"id": 5, "title": "Oak Table"}\n{"id": 6, "title": "Claw Hammer"}\n')
    flow, generation = blocks("python")[:2]
    flow = (flow.replace('"path/to/model"', repr(str(lrem_model_dir)))
                .replace('"path/to/items.jsonl"', repr(str(items)))
                .replace('"path/to/index"', repr(str(tmp_path / "index"))))
    exec(compile(flow, "README flow", "exec"), {})
    out = capsys.readouterr().out
    assert out.startswith("cot: ") and "(1, 64) float32" in out
    assert (tmp_path / "index" / "meta.json").is_file() and (tmp_path / "index" / "items.jsonl").is_file()
    exec(compile(generation.replace('"../shared/fixtures/stories260K"', repr(str(stories_dir))), "README gen", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 2 and lines[0].startswith(", there was")  # the greedy continuation, prompt not repeated


def test_cpp_snippet_is_the_example_program():
    example = (REPO / "examples" / "cpp" / "search_catalogue.cpp").read_text()
    example_lines = {line.strip() for line in example.splitlines()}
    snippet = blocks("cpp")[0]
    for line in snippet.splitlines():
        if line.strip():
            assert line.strip() in example_lines, f"README line not in the example: {line}"


def test_python_example_script_runs(lrem_model_dir, tmp_path):
    items = tmp_path / "items.jsonl"
    items.write_text('{"id": 7, "title": "Toy Dump Truck"}\n{"id": 8, "title": "Wool Cardigan"}\n')
    r = subprocess.run([sys.executable, REPO / "examples" / "search_catalogue.py", "--model", lrem_model_dir,
                        "--items", items, "-k", "2", "toy for a child"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "query: toy for a child" and lines[1].startswith("cot:")
    assert {"[7]", "[8]"} == {line.split()[2] for line in lines[2:4]}
