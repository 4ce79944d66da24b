"""The command line: train writes its three files; bad input is one line naming the value."""
import json
import subprocess
import sys

import pytest

from lowent.engine import EPOCH_METRICS
from tests.helpers import run_cli


def lowent_process(*args):
    return subprocess.run([sys.executable, "-m", "lowent", *args], capture_output=True,
                          text=True, timeout=300)


def test_train_writes_spec_trace_and_weights(tmp_path):
    out = tmp_path / "run"
    r = run_cli("train", "--model", "transformer", "--variant", "full", "--d-model", "8",
               "--layers", "1", "--seeds", "0-1", "--epochs", "2", "--optimizer", "adam",
               "--target", "base", "--layout", "trie", "--dropout", "0.1", "--device", "cpu",
               "--out", str(out))
    assert r.returncode == 0, r.stderr
    spec = json.loads((out / "spec.json").read_text())
    assert spec["spec"]["model"]["d_model"] == 8 and spec["spec"]["seeds"] == [0, 1]
    assert spec["torch"] and spec["device"] == "cpu"
    trace = json.loads((out / "trace.json").read_text())
    assert trace["seeds"] == [0, 1]
    for name in EPOCH_METRICS:
        assert len(trace["per_epoch"][name]) == 2 and len(trace["per_epoch"][name][0]) == 2, name
    assert (out / "weights.safetensors").stat().st_size > 0
    assert "final H" in r.stdout
    assert "epoch 1/2: loss" in r.stderr and "epoch 2/2: loss" in r.stderr  # piped: lines
    assert r.stderr.startswith("training transformer/full d=8 L=1 adam, 2 epochs, seeds 0-1")


@pytest.mark.parametrize("args, bad", [
    (["--model", "mamba"], "mamba"),
    (["--d-model", "30"], "30"),
    (["--seeds", "3-1"], "3-1"),
    (["--optimizer", "lamb"], "lamb"),
    (["--target", "mid"], "mid"),
    (["--layout", "fast"], "fast"),
    (["--device", "tpu"], "tpu"),
    (["--d-model", "x"], "'x'"),
    (["--variant", "moe"], "moe"),
])
def test_bad_input_exits_nonzero_with_one_line_naming_it(tmp_path, args, bad):
    r = run_cli("train", *args, "--epochs", "1", "--out", str(tmp_path / "x"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and bad in lines[0] and lines[0].startswith("lowent: error:")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("args, bad", [
    (["compare", "a.json", "b.json", "--alpha", "2"], "--alpha: 2 is not a level strictly"),
    (["compare", "a.json", "b.json", "--alpha", "nan"], "--alpha: nan is not a level"),
    (["compare", "a.json", "b.json", "--alpha", "0"], "--alpha: 0 is not a level"),
    (["power", "r.json", "--sims", "0"], "--sims: 0 is less than 1"),
    (["power", "r.json", "--seeds", "0"], "--seeds: 0 is less than 2"),
    (["power", "r.json", "--seeds", "-5"], "--seeds: -5 is less than 2"),
    (["bench", "--steps", "0"], "--steps: 0 is less than 1"),
    (["bench", "--threads", "two"], "--threads: 'two' is not a whole number"),
    (["train", "--epochs", "0", "--out", "OUT"], "--epochs: 0 is less than 1"),
    (["train", "--epochs", "1", "--out", ""], "--out is empty; give a directory"),
    (["train", "--epochs", "1", "--out", "AFILE"], "is a file, not a directory"),
    (["train", "--epochs", "1", "--out", "AFILE/sub"], "cannot be created"),
    (["train", "--seeds", "0-99999999999", "--out", "OUT"], "name 100,000,000,000 seeds"),
    (["power", "r.json", "--json", "AFILE/p.json"], "--json's directory"),
    (["bench", "--json", "AFILE/b.json"], "--json's directory"),
    (["cache", "--cache="], "--cache is empty"),
    (["train", "--epochs", "1", "--out", "DANGLE/run"], "is a symbolic link to nothing"),
    (["power", "r.json", "--json", "DANGLE/p.json"], "is a symbolic link to nothing"),
])
def test_bad_numbers_and_paths_are_one_line_before_any_work(tmp_path, args, bad):
    """B5, B6, B7 of issue 31: a level outside (0, 1), a count below its least value, an
    --out that cannot hold the run (checked before training), an enormous seed set."""
    (tmp_path / "afile").write_text("")
    (tmp_path / "dangle").symlink_to(tmp_path / "nothing")
    args = [str(tmp_path / "out") if a == "OUT" else
            a.replace("AFILE", str(tmp_path / "afile")).replace("DANGLE", str(tmp_path / "dangle"))
            for a in args]
    r = run_cli(*args)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and bad in lines[0], r.stderr
    assert not (tmp_path / "out").exists()


def test_a_reader_that_stops_early_is_no_error():
    """``python -m lowent ... | head``: the command stops quietly with a Unix tool's status
    (141), not a BrokenPipeError printed twice."""
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-m", "lowent", "machine"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait() == 141 and err == ""


@pytest.mark.parametrize("args, bad", [
    (["--model", "gru", "--variant", "routed"], "--variant applies to the Transformer only"),
    (["--model", "lstm", "--layers", "2", "--norm", "pre"], "--layers, --norm applies"),
])
def test_options_that_do_not_apply_are_usage_errors(tmp_path, args, bad):
    r = run_cli("train", *args, "--epochs", "1", "--out", str(tmp_path / "x"))
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and bad in lines[0], r.stderr


def test_version_and_help_show_defaults_and_choices():
    from lowent import __version__

    r = lowent_process("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"lowent {__version__}"
    text = " ".join(run_cli("train", "--help").stdout.split())
    for expected in ("{transformer,gru,lstm}", "{trie,dedup,per_sample,faithful}",
                     "{adam,sgd_momentum,rmsprop,adam_2nd,adamw}", "{base,low,high}",
                     "(default: 64)", "(default: 0-7)", "(default: 100)"):
        assert expected in text, expected


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a GPU is present")
def test_a_failure_while_running_exits_1_with_one_line_or_a_traceback_with_debug(tmp_path):
    args = ("train", "--d-model", "8", "--epochs", "1", "--device", "cuda", "--out",
            str(tmp_path / "x"))
    r = lowent_process(*args)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1 and "no CUDA GPU" in lines[0], r.stderr
    r = lowent_process("--debug", *args)
    assert r.returncode == 1 and "Traceback" in r.stderr


def test_bench_reports_both_sides_and_their_ratio(monkeypatch, capsys):
    """A tiny bench run: both sides timed, ratio and floor printed (no time bound asserted)."""
    from lowent import bench

    monkeypatch.setattr(bench, "CONFIGS", ((8, 1, 2),))
    from lowent.cli import main

    assert main(["bench", "--steps", "2"]) == 0
    out = capsys.readouterr().out
    assert "baseline" in out and "engine" in out and "ratio baseline/engine" in out
    assert "GFLOP/s" in out and "the floor" in out
    assert "layout trie" in out and "layout faithful" in out
    assert "summary" not in out
    assert main(["bench", "--steps", "2", "--repeat", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("layout trie") == 2 and "summary:" in out
    assert "d=8 L=1, 2 seeds, trie: ratio median " in out and "over 2 repeats" in out
    assert main(["bench", "--repeat", "0"]) == 2
    assert "--repeat: 0 is less than 1" in capsys.readouterr().err
    import torch

    before = torch.get_num_threads()
    assert main(["bench", "--steps", "1", "--threads", "1"]) == 0
    assert "threads 1" in capsys.readouterr().out and torch.get_num_threads() == before
    assert main(["bench", "--threads", "0"]) == 2
    assert "--threads: 0 is less than 1" in capsys.readouterr().err


def test_bench_summary_takes_the_median_and_range_of_each_layouts_ratio():
    from lowent.bench import BenchRow, summarize

    def row(layout, ratio):
        return BenchRow(d=64, layers=1, seeds=10, steps=16, layout=layout,
                        baseline_s_per_model_epoch=1.0, engine_s_per_model_epoch=1 / ratio,
                        steps_s_per_model_epoch=1 / ratio, ratio=ratio, engine_gflops=1.0,
                        baseline_gflops=1.0, peak_gflops=1.0, floor_s_per_model_epoch=0.01,
                        engine_over_floor=ratio / 10)

    lines = summarize([row("trie", 28.0), row("faithful", 3.0), row("trie", 31.0),
                       row("trie", 29.5), row("faithful", 2.0)])
    assert lines == [
        "d=64 L=1, 10 seeds, trie: ratio median 29.5x (28.0x to 31.0x over 3 repeats); "
        "engine = 2.95x the floor (median)",
        "d=64 L=1, 10 seeds, faithful: ratio median 2.5x (2.0x to 3.0x over 2 repeats); "
        "engine = 0.25x the floor (median)"]


def test_faithful_flops_count_shared_rows_before_the_first_dropout_only():
    """The faithful floor: a full L = 1 Transformer computes attention and W1 on the trie's
    nodes and W2 and the head on every sample row; with no FFN every block is shared."""
    from lowent.bench import forward_flops
    from lowent.config import ModelSpec

    d, V, A, N, M = 8, 5, 3.0, 100, 10
    full = ModelSpec(d_model=d, layers=1)
    attn, w1, w2, head = 2 * 4 * d * d + 4 * A * d, 2 * d * 4 * d, 2 * 4 * d * d, 2 * d * V
    assert forward_flops(full, N, A, V) == N * (attn + w1 + w2 + head)
    assert forward_flops(full, N, A, V, shared=M) == M * (attn + w1) + N * (w2 + head)
    only = ModelSpec(d_model=d, layers=2, variant="attention_only")
    assert forward_flops(only, N, A, V, shared=M) == 2 * M * attn + N * head


def test_train_killed_then_run_again_resumes_from_its_checkpoint(tmp_path):
    """kill -9 after the first checkpoint (every 5 epochs), the same command again: it says
    from which epoch it resumes, finishes, and drops the checkpoint."""
    import signal
    import time

    out = tmp_path / "run"
    args = [sys.executable, "-m", "lowent", "train", "--d-model", "8", "--layers", "1",
            "--seeds", "0-1", "--epochs", "7", "--out", str(out)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not (out / "checkpoint.pt").exists() and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "resuming transformer d=8 L=1 seeds 0,1 from epoch" in r.stderr
    assert not (out / "checkpoint.pt").exists()
    assert (out / "weights.safetensors").exists()
