"""Progress lines of a run set that is partly cached or resumes from a checkpoint; the cores
they (and the training slots) count."""
import math
import os

import pytest

from lowent.config import ModelSpec, RunSpec
from lowent.progress import Progress, usable_cores


class StubCache:
    """Seeds stored per model size, and the epoch of each seed stack's checkpoint."""

    def __init__(self, stored: dict[int, set], checkpoints: dict, busy: frozenset = frozenset()):
        self.stored, self.checkpoints, self.busy = stored, checkpoints, busy

    def held_elsewhere(self, spec):
        return spec.model.d_model in self.busy

    def missing(self, spec):
        return tuple(s for s in spec.seeds if s not in self.stored.get(spec.model.d_model, set()))

    def has(self, spec):
        return not self.missing(spec)

    def checkpoint_epoch(self, spec):
        return self.checkpoints.get((spec.model.d_model, spec.seeds))


def _spec(d):
    return RunSpec(model=ModelSpec(d_model=d, layers=1), seeds=tuple(range(10)))


def test_lines_name_the_seeds_trained_and_a_resumed_run():
    a, b = _spec(8), _spec(16)
    cache = StubCache({8: set(range(5))}, {(8, (5, 6, 7, 8, 9)): 60})
    assert cache.missing(a) == (5, 6, 7, 8, 9)
    lines = []
    p = Progress(cache, [a, b], lines.append)
    assert lines[0].startswith("lowent: 2 runs for the selected claims: 0 cached, 2 to train "
                               "(1 of them with some seeds cached; 1 resuming from a "
                               "checkpoint) (estimated ")
    assert p.resumes(a) and not p.resumes(b)
    cache.stored[8] = set(range(10))
    p.trained(a, 30.0, resumed=True)
    assert "trained transformer/full d=8 L=1 adam, 100 epochs, seeds 5-9, trie (seeds 0-4 " \
           "cached) in 30 s (resumed from a checkpoint); 1 of 2 runs ready" in lines[-1]
    assert p.spent == p.estimated == 0.0  # a resumed run does not set the pace
    cache.stored[16] = set(range(10))
    p.trained(b, 12.0)
    assert "seeds 0-9, trie in 12 s; 2 of 2 runs ready, about 0 min left" in lines[-1]
    assert p.spent > 0 and p.estimated > 0


def test_a_resumed_run_costs_the_epochs_left_of_its_missing_seeds():
    from lowent.bench import estimate_seconds

    spec = _spec(8)
    fresh = Progress(StubCache({}, {}), [spec], lambda line: None)
    half = Progress(StubCache({8: set(range(5))}, {}), [spec], lambda line: None)
    late = Progress(StubCache({8: set(range(5))}, {(8, (5, 6, 7, 8, 9)): 75}), [spec],
                    lambda line: None)
    assert fresh.cost[spec] == estimate_seconds(spec)
    assert half.cost[spec] == estimate_seconds(spec.replace(seeds=(5, 6, 7, 8, 9)))
    assert late.cost[spec] == half.cost[spec] * (1 - 75 / spec.train.epochs)


def test_faithful_estimates_split_the_sublayers_at_the_first_dropout():
    """A faithful step runs everything up to the first FFN's ReLU on the shared trie nodes
    (paid once for all seeds, as a trie step's layers) and the rest on every seed's sample
    rows, whose element-wise work FLOPs miss and which dominates small faithful runs."""
    from lowent.bench import TRIE_LAYER_S, estimate_seconds, split_sublayers
    from lowent.config import ModelSpec, RunSpec, TrainSpec

    def split(layout, **model):
        return split_sublayers(ModelSpec(**{"d_model": 8, "layers": 4, **model}), layout)

    none = {"attention": 0, "ffn": 0, "rnn": 0}
    # (trie nodes, sample rows) of each variant at L = 4, counted by hand from block_plan
    assert split("faithful", variant="full") == ({**none, "attention": 1},
                                           {"attention": 3, "ffn": 4})
    assert split("faithful", variant="attention_main") == ({**none, "attention": 4},
                                                     {"attention": 0, "ffn": 1})
    assert split("faithful", variant="ffn_main") == ({**none, "attention": 1},
                                               {"attention": 0, "ffn": 4})
    assert split("faithful", variant="attention_only") == ({**none, "attention": 4},
                                                     {"attention": 0, "ffn": 0})
    assert split("per_sample", variant="ffn_main") == (none, {"attention": 1, "ffn": 4})
    assert split("trie", variant="ffn_main") == ({**none, "attention": 1, "ffn": 4},
                                                 {"attention": 0, "ffn": 0})
    assert split("faithful", kind="gru", layers=1) == ({**none, "rnn": 1},
                                                       {"attention": 0, "ffn": 0})
    spec = RunSpec(model=ModelSpec(d_model=8, layers=4), seeds=tuple(range(10)))
    trie = estimate_seconds(spec)
    faithful = estimate_seconds(spec.replace(train=TrainSpec(layout="faithful")))
    assert faithful > 3 * trie

    def cost(n, variant):
        return estimate_seconds(RunSpec(model=ModelSpec(d_model=8, layers=4, variant=variant),
                                        seeds=tuple(range(n)), train=TrainSpec(layout="faithful")))

    # the nodes' share is the intercept in the seeds: once a step, whatever the stack
    for variant, attention in (("full", 1), ("attention_only", 4)):
        one, five = cost(1, variant), cost(5, variant)
        fixed = one - (five - one) / 4
        assert math.isclose(fixed, 100 * 128 * attention * TRIE_LAYER_S["attention"],
                            rel_tol=1e-9)


def test_trie_estimates_pay_the_per_layer_overhead_once_for_the_stacked_seeds():
    """A trie step's fixed cost is per layer, one kernel for every stacked seed: the estimate
    is linear in the seeds, and its intercept is that cost, larger with more layers."""
    from lowent.bench import TRIE_LAYER_S, TRIE_STEP_S, estimate_seconds
    from lowent.config import ModelSpec, RunSpec

    def cost(n, **model):
        return estimate_seconds(RunSpec(model=ModelSpec(**model), seeds=tuple(range(n))))

    for model in ({"d_model": 8, "layers": 1}, {"d_model": 64, "layers": 4},
                  {"kind": "gru", "d_model": 16, "layers": 1}):
        one, five, ten = cost(1, **model), cost(5, **model), cost(10, **model)
        assert math.isclose(ten - five, 5 * (five - one) / 4, rel_tol=1e-9)
        fixed = one - (five - one) / 4
        layers = ({"rnn": 1} if model.get("kind") == "gru"
                  else {"attention": model["layers"], "ffn": model["layers"]})
        per_step = TRIE_STEP_S + sum(TRIE_LAYER_S[k] * n for k, n in layers.items())
        assert math.isclose(fixed, 100 * 128 * per_step, rel_tol=1e-9)
    assert cost(5, d_model=8, layers=4) > 2 * cost(5, d_model=8, layers=1)


def test_the_estimate_spreads_over_the_cores_that_train_at_once():
    """One training process of one torch thread (``-n 1``) trains on one core however many
    there are: its estimate is the summed cost, not that cost over the cores; two such
    processes on two cores halve it, and so does one process of two threads."""
    a, b = _spec(32), _spec(64)
    lines = {}
    for workers, threads in ((1, 1), (2, 1), (1, 2), (4, 1)):
        out = []
        p = Progress(StubCache({}, {}), [a, b], out.append, workers=workers,
                     threads=threads, cores=2)
        lines[workers, threads] = (p.parallel, p.share, out[0])
    assert lines[1, 1][:2] == (1, 1.0) and lines[1, 1][2].endswith(" on 1 of 2 cores)")
    assert lines[2, 1][:2] == (2, 1.0) and lines[2, 1][2].endswith(" on 2 cores)")
    assert lines[1, 2][:2] == (2, 2.0) and lines[4, 1][:2] == (2, 0.5)
    total = sum(p.cost.values()) / 60
    assert f"(estimated {total:.0f} min on 1 of 2" in lines[1, 1][2]
    assert f"(estimated {total / 2:.0f} min on 2 cores" in lines[2, 1][2]


def test_a_run_another_process_trains_counts_from_the_start():
    """An xdist sibling trains d = 8 and has written a checkpoint: this worker plans it from
    the start, as a worker that looked before the checkpoint existed does, so every worker
    announces the same plan (the terminal prints a repeated line once)."""
    a, b = _spec(8), _spec(16)
    before, after = [], []
    Progress(StubCache({}, {}), [a, b], before.append)
    Progress(StubCache({}, {(8, a.seeds): 40}, frozenset({8})), [a, b], after.append)
    assert before == after and "resuming" not in after[0]


@pytest.mark.parametrize("cpu_max, cap", [("max 100000\n", None), ("150000 100000\n", 2),
                                          ("50000 100000\n", 1), ("garbage\n", None),
                                          (None, None)])
def test_usable_cores_are_the_affinity_capped_by_a_cgroup_quota(tmp_path, cpu_max, cap):
    path = tmp_path / "cpu.max"
    if cpu_max is not None:
        path.write_text(cpu_max)
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    assert usable_cores(str(path)) == (affinity if cap is None else min(affinity, cap))


def test_every_training_line_prints_before_the_first_test_without_xdist(pytester):
    """In one process (no xdist) the lines are printed by a thread every second; training
    ends just before the first test, and a tick during that test would print into its
    captured output, lost when it passes. The lines written by then are printed before it:
    each of the shrunk L1's 3 runs has its line. (The claim test here lasts 2.5 s, so that
    a tick surely falls within it, as on a busy machine.)"""
    from tests.helpers import CLAIM_TEST, SHRINK

    pytester.makeconftest(SHRINK)
    slow = CLAIM_TEST.replace("def test_l1_runs(runs):\n",
                              "def test_l1_runs(runs):\n    import time; time.sleep(2.5)\n")
    assert slow != CLAIM_TEST
    pytester.makepyfile(test_claim=slow)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider -p no:randomly\n")
    res = pytester.runpytest_subprocess("--lowent-cache=c", "--lowent-report=none",
                                        "-p", "no:xdist")
    res.assert_outcomes(passed=1)
    assert res.stdout.str().count("lowent: trained") == 3, res.stdout.str()


def test_a_training_error_before_the_tests_is_said_and_left_to_the_claim_tests(pytester):
    """Training before the tests fails (here: an error planted in it): a line says so and
    why, and the claim test trains what it needs itself (it passes). Its training lines,
    written while it runs, are printed when it ends, not into its captured output (the
    test lasts 2.5 s, so that a tick of the printing thread surely falls within it). The
    error's message is not ASCII: each line prints once, whole."""
    from tests.helpers import CLAIM_TEST, SHRINK

    pytester.makeconftest(SHRINK + (
        "import lowent.plugin.scheduling as sch\n"
        "def _fail(session):\n"
        "    raise RuntimeError('the cluster went away " + "\u00e9" * 30 + "\\nsecond line')\n"
        "sch._train_selected = _fail\n"))
    pytester.makepyfile(test_claim=CLAIM_TEST.replace(
        "def test_l1_runs(runs):\n", "def test_l1_runs(runs):\n    import time; time.sleep(2.5)\n"))
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider -p no:randomly\n")
    res = pytester.runpytest_subprocess("--lowent-cache=c", "--lowent-report=none",
                                        "-p", "no:xdist")
    res.assert_outcomes(passed=1)
    out = res.stdout.str()
    assert ("lowent: training before the tests stopped (RuntimeError: the cluster went away "
            + "\u00e9" * 30 + ")") in out, out
    assert "second line" not in out
    assert out.count("report any error") == 1, out
    assert out.count("lowent: trained") == 3, out
