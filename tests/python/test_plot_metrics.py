"""scripts/plot_metrics.py: curves and the summary figures that docs/RESULTS.md quotes from runs."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "plot_metrics.py")


def write_run(path, values):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for step, value in enumerate(values, 1):
            # "loss" is logged on every record, "reward" only on every other one.
            record = {"stage": "grpo", "step": step, "elapsed": 2.0 * step, "loss": value}
            if step % 2 == 0:
                record["reward"] = 10 * value
            f.write(json.dumps(record) + "\n")


def test_summary_prints_the_mean_and_the_first_and_last_windows(tmp_path):
    path = tmp_path / "run" / "metrics.jsonl"
    write_run(path, [1, 2, 3, 4, 5, 6])
    out = subprocess.run([sys.executable, SCRIPT, "--summary", "--window", "2", str(path)],
                         capture_output=True, text=True, check=True).stdout
    assert f"{path}: 6 records, last step 6, wall time 12 s in 1 segment(s)" in out
    assert "  loss: 3.500 [1.500 -> 5.500] over 6 records" in out
    # reward: 20, 40, 60 on steps 2, 4, 6; a record that lacks it does not count as zero.
    assert "  reward: 40.000 [30.000 -> 50.000] over 3 records" in out


def test_summary_refuses_an_unknown_metric(tmp_path):
    path = tmp_path / "run" / "metrics.jsonl"
    write_run(path, [1, 2])
    result = subprocess.run([sys.executable, SCRIPT, "--summary", "--metrics", "los", str(path)],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "unknown metric(s) los" in result.stderr


def test_curves_are_written_as_png(tmp_path):
    path = tmp_path / "run" / "metrics.jsonl"
    write_run(path, [3, 2, 1])
    output = tmp_path / "curves.png"
    subprocess.run([sys.executable, SCRIPT, str(path), "-o", str(output)], capture_output=True, check=True)
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_summary_sums_the_wall_time_of_a_resumed_run(tmp_path):
    path = tmp_path / "run" / "metrics.jsonl"
    # Steps 1-3 took 30 s; resumed from step 3, steps 4-5 took 25 s on a clock restarted at 0.
    records = [(1, 10.0), (2, 20.0), (3, 30.0), (4, 12.0), (5, 25.0)]
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps({"step": s, "elapsed": e, "loss": 1.0}) + "\n" for s, e in records))
    out = subprocess.run([sys.executable, SCRIPT, "--summary", str(path)], capture_output=True, text=True,
                         check=True).stdout
    assert "5 records, last step 5, wall time 55 s in 2 segment(s)" in out


def test_a_missing_or_unreadable_file_is_refused_with_a_message(tmp_path):
    for path, reason in [(tmp_path / "absent" / "metrics.jsonl", "No such file or directory"),
                         (tmp_path, "Is a directory")]:
        for mode in ([], ["--summary"]):
            result = subprocess.run([sys.executable, SCRIPT, *mode, str(path)], capture_output=True, text=True)
            assert result.returncode != 0
            assert "Traceback" not in result.stderr
            assert f"{path}: cannot read it ({reason})" in result.stderr
