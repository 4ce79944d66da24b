"""bench-compare and bench-noise on constructed pytest-benchmark files."""
import json

import pytest

from lowent import benchcmp
from lowent.cli import main


def _run(path, medians: dict, torch="2.13.0+cpu", threads=2):
    rows = [{"name": name, "stats": {"median": m, "rounds": 40},
             "extra_info": {"torch": torch, "threads": threads, "device": "cpu", "models": 5,
                            "flops": 1e9}} for name, m in medians.items()]
    path.write_text(json.dumps({"benchmarks": rows, "machine_info": {}, "version": "5"}))
    return str(path)


def test_compare_fails_only_beyond_the_threshold(tmp_path, capsys):
    old = _run(tmp_path / "old.json", {"a": 1.0, "b": 2.0})
    new = _run(tmp_path / "new.json", {"a": 1.2, "b": 1.0}, torch="2.15.0")
    assert main(["bench-compare", old, new, "--threshold", "0.25"]) == 0
    out = capsys.readouterr().out
    assert "x 1.20" in out and "x 0.50" in out and "SLOWER" not in out
    assert main(["bench-compare", old, new, "--threshold", "0.1"]) == 1
    out = capsys.readouterr().out
    assert "SLOWER" in out and "FAIL" in out and "torch 2.15.0" in out


def test_compare_flags_unlike_runs_and_missing_benchmarks(tmp_path):
    old = benchcmp.load(_run(tmp_path / "o.json", {"a": 1.0, "only_old": 1.0}))
    new = benchcmp.load(_run(tmp_path / "n.json", {"a": 1.0}, threads=1))
    lines, failed = benchcmp.compare(old, new)
    text = "\n".join(lines)
    assert not failed
    assert "not like for like: threads 2 vs 1" in text
    assert "only_old" in text and "only in old" in text


def test_a_slowdown_on_another_cpu_or_thread_count_is_shown_not_failed(tmp_path):
    def on(path, cpu, median, threads=2):
        _run(path, {"a": median}, threads=threads)
        data = json.loads(path.read_text())
        data["machine_info"] = {"cpu": {"brand_raw": cpu}}
        path.write_text(json.dumps(data))
        return benchcmp.load(str(path))

    xeon = on(tmp_path / "x.json", "Intel Xeon", 1.0)
    lines, failed = benchcmp.compare(xeon, on(tmp_path / "e.json", "AMD EPYC", 2.0))
    text = "\n".join(lines)
    assert not failed and "slower, not judged" in text and "cpu Intel Xeon vs AMD EPYC" in text
    lines, failed = benchcmp.compare(xeon, on(tmp_path / "t.json", "Intel Xeon", 2.0, 1))
    assert not failed and "threads 2 vs 1" in "\n".join(lines)
    assert benchcmp.compare(xeon, on(tmp_path / "s.json", "Intel Xeon", 2.0))[1]  # like: fails


def test_noise_is_the_largest_spread_of_a_median():
    runs = [{"a": {"median": m, "info": {}}, "b": {"median": 1.0, "info": {}}}
            for m in (1.0, 1.1, 1.25)]
    lines, worst = benchcmp.noise(runs)
    assert worst == pytest.approx(0.25)
    assert "largest spread 25.0%" in lines[-1]


@pytest.mark.parametrize("content", ["not json", '{"benchmarks": []}', '{"other": 1}'])
def test_a_file_that_is_not_a_benchmark_run_is_one_line(tmp_path, capsys, content):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    good = _run(tmp_path / "good.json", {"a": 1.0})
    assert main(["bench-compare", good, str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lowent: error:") and "bad.json" in err and "\n" not in err


def test_usage_errors(tmp_path, capsys):
    good = _run(tmp_path / "good.json", {"a": 1.0})
    other = _run(tmp_path / "other.json", {"b": 1.0})
    assert main(["bench-noise", good]) == 2
    assert main(["bench-compare", good, other]) == 2
    assert main(["bench-compare", good, good, "--threshold", "-1"]) == 2
    assert main(["bench-compare", good, str(tmp_path / "missing.json")]) == 2
    assert "no such file" in capsys.readouterr().err
