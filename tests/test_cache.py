"""The run cache: trains once, detects corrupt and foreign entries, serialises workers."""
import json
import multiprocessing as mp
import os
import warnings

import numpy as np
import pytest

from lowent.cache import Cache, CacheWarning, CorruptEntry, entry_key
from lowent.config import RunSpec, TrainSpec
from lowent.engine import train
from tests.helpers import model_spec, small_target

SPEC = RunSpec(target=small_target(), model=model_spec(dict(variant="full"), d=4, layers=1),
               train=TrainSpec(batch_size=256, epochs=1), seeds=(0, 1))


class CountingTrain:
    """A recording fake around the real train(): counts how often it is called and records
    the seeds of each call."""

    def __init__(self):
        self.calls = 0
        self.seeds: list[tuple[int, ...]] = []

    def __call__(self, spec, device="cpu", progress="none", **kw):
        self.calls += 1
        self.seeds.append(spec.seeds)
        return train(spec, device=device, **kw)


def entry(cache, spec, seed):
    """The entry directory of one seed of `spec`."""
    return cache.path(spec.replace(seeds=(seed,)))


def test_second_get_loads_instead_of_training(tmp_path):
    cache, fake = Cache(tmp_path), CountingTrain()
    a = cache.get(SPEC, train_fn=fake)
    b = cache.get(SPEC, train_fn=fake)
    assert fake.calls == 1
    np.testing.assert_array_equal(a.table, b.table)
    assert b.spec == SPEC


@pytest.mark.parametrize("damage", ["truncate_weights", "flip_trace_byte", "delete_trace",
                                    "garbage_manifest", "manifest_list", "manifest_null",
                                    "files_list", "unreadable_weights", "entry_is_a_file",
                                    "entry_is_a_fifo", "manifest_is_a_fifo"])
def test_corrupt_entry_is_detected_and_retrained_with_a_warning(tmp_path, monkeypatch, damage):
    """An unusable entry of any shape (B3, B4) is retrained with a warning, never a crash."""
    cache, fake = Cache(tmp_path), CountingTrain()
    good = cache.get(SPEC, train_fn=fake)
    d = entry(cache, SPEC, 1)
    if damage == "truncate_weights":
        (d / "weights.safetensors").write_bytes((d / "weights.safetensors").read_bytes()[:100])
    elif damage == "flip_trace_byte":
        raw = bytearray((d / "trace.json").read_bytes())
        raw[len(raw) // 2] ^= 1
        (d / "trace.json").write_bytes(bytes(raw))
    elif damage == "delete_trace":
        os.remove(d / "trace.json")
    elif damage == "garbage_manifest":
        (d / "manifest.json").write_text("{not json")
    elif damage in ("manifest_list", "manifest_null"):  # valid JSON, not an entry's (B3)
        (d / "manifest.json").write_text("[]" if damage == "manifest_list" else "null")
    elif damage == "files_list":
        manifest = json.loads((d / "manifest.json").read_text())
        (d / "manifest.json").write_text(json.dumps({**manifest, "files": []}))
    elif damage == "unreadable_weights":  # B4: a PermissionError from the checksum
        import lowent.cache

        checksum = lowent.cache._sha256

        def refuse(path):
            if path.parent == d:
                raise PermissionError(13, "Permission denied")
            return checksum(path)

        monkeypatch.setattr(lowent.cache, "_sha256", refuse)
    elif damage == "manifest_is_a_fifo":  # reading it would block: never read
        os.remove(d / "manifest.json")
        os.mkfifo(d / "manifest.json")
    else:  # B4: the entry's path replaced by a file (or a FIFO, whose removal must not open
        import shutil  # it); storing the retrained run replaces it

        shutil.rmtree(d)
        if damage == "entry_is_a_fifo":
            os.mkfifo(d)
        else:
            d.write_text("not an entry")
    with pytest.warns(CacheWarning, match="unusable"):
        again = cache.get(SPEC, train_fn=fake)
    monkeypatch.undo()
    assert fake.calls == 2 and fake.seeds[-1] == (1,)  # only the damaged seed is retrained
    np.testing.assert_array_equal(again.table, good.table)  # training is deterministic
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cache.get(SPEC, train_fn=fake)  # repaired: loads silently
    assert fake.calls == 2


def test_foreign_entry_is_never_used(tmp_path):
    """An entry of another spec copied under this spec's key is detected and retrained."""
    cache, fake = Cache(tmp_path), CountingTrain()
    one = SPEC.replace(seeds=(0,))
    other = SPEC.replace(seeds=(5,))
    cache.get(other, train_fn=fake)
    os.rename(cache.path(other), cache.path(one))
    with pytest.warns(CacheWarning, match="foreign"):
        run = cache.get(one, train_fn=fake)
    assert run.spec == one and fake.calls == 2
    # Even with a manifest rewritten to claim this key, the stored spec gives it away.
    d = cache.path(one)
    cache.get(other, train_fn=fake)
    od = cache.path(other)
    manifest = json.loads((od / "manifest.json").read_text())
    manifest.update(key=d.name, spec_key=one.key())
    (od / "manifest.json").write_text(json.dumps(manifest))
    import shutil

    shutil.rmtree(d)
    os.rename(od, d)
    with pytest.warns(CacheWarning, match="foreign"):
        assert cache.get(one, train_fn=fake).spec == one


def test_key_depends_on_spec_and_device_tag():
    assert entry_key(SPEC) == entry_key(SPEC)
    assert entry_key(SPEC) != entry_key(SPEC.replace(seeds=(0, 2)))


def _worker(root, marker_dir, spec_json, q):
    from lowent.cache import Cache
    from lowent.config import RunSpec
    from lowent.engine import train

    def counting(spec, device="cpu", progress="none", **kw):
        open(os.path.join(marker_dir, f"trained-{os.getpid()}"), "w").close()
        return train(spec, device=device)

    run = Cache(root).get(RunSpec.from_dict(json.loads(spec_json)), train_fn=counting)
    q.put(float(run.per_epoch["entropy"][0, -1]))


def test_concurrent_workers_train_a_key_once(tmp_path):
    """Four processes asking for the same run at once: one trains, three load."""
    markers = tmp_path / "markers"
    markers.mkdir()
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(tmp_path / "cache"), str(markers),
                                               json.dumps(SPEC.to_dict()), q)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert len(os.listdir(markers)) == 1
    values = [q.get(timeout=5) for _ in procs]
    assert len(set(values)) == 1


def test_non_blocking_get_skips_a_run_locked_elsewhere(tmp_path):
    from filelock import FileLock

    cache, fake = Cache(tmp_path), CountingTrain()
    tmp_path.mkdir(exist_ok=True)
    held = FileLock(str(tmp_path / f"{entry_key(SPEC.replace(seeds=(1,)))}.lock"))  # one seed
    held.acquire()
    try:
        assert cache.get(SPEC, train_fn=fake, blocking=False) is None
        assert fake.calls == 0
    finally:
        held.release()
    assert cache.get(SPEC, train_fn=fake, blocking=False) is not None and fake.calls == 1


def test_more_seeds_train_only_the_new_ones(tmp_path):
    """Seeds 0-3 asked for after 0-1: 0 and 1 are loaded, 2 and 3 trained together; each seed
    is what a run of it alone gives (a seed's streams do not depend on its stack-mates)."""
    cache, fake = Cache(tmp_path), CountingTrain()
    small = cache.get(SPEC, train_fn=fake)
    assert cache.missing(SPEC.replace(seeds=(0, 1, 2, 3))) == (2, 3) and cache.has(SPEC)
    wide = cache.get(SPEC.replace(seeds=(0, 1, 2, 3)), train_fn=fake)
    assert fake.seeds == [(0, 1), (2, 3)]
    assert wide.seeds == (0, 1, 2, 3) and wide.table.shape[0] == 4
    np.testing.assert_array_equal(wide.table[:2], small.table)
    alone = train(SPEC.replace(seeds=(3,)))
    np.testing.assert_allclose(wide.table[3], alone.table[0], rtol=0, atol=1e-5)  # float32
    for name, value in alone.state.items():
        assert wide.state[name].shape[0] == 4
        np.testing.assert_allclose(wide.state[name][3:].numpy(), value.numpy(), atol=1e-5)
    again = cache.get(SPEC.replace(seeds=(3, 1)), train_fn=fake)  # any order, nothing trained
    assert fake.calls == 2 and again.seeds == (3, 1)
    np.testing.assert_array_equal(again.table[0], wide.table[3])


def test_an_entry_holds_one_seed(tmp_path):
    with pytest.raises(ValueError, match="one seed"):
        Cache(tmp_path).path(SPEC)


def test_stored_reads_without_training(tmp_path):
    """`stored` gives the run of stored seeds, None while any seed is missing (training
    nothing, leaving no entry or checkpoint), and names the seed of an unusable entry."""
    cache, fake = Cache(tmp_path), CountingTrain()
    assert cache.stored(SPEC) is None
    assert not any(tmp_path.iterdir())
    got = cache.get(SPEC, train_fn=fake)
    read = cache.stored(SPEC.replace(seeds=(1, 0)))
    assert fake.calls == 1 and read.seeds == (1, 0)
    np.testing.assert_array_equal(read.table[::-1], got.table)
    assert cache.stored(SPEC.replace(seeds=(0, 1, 2))) is None and fake.calls == 1
    assert cache.missing(SPEC.replace(seeds=(0, 1, 2))) == (2,)
    os.remove(entry(cache, SPEC, 1) / "trace.json")
    with pytest.raises(CorruptEntry, match="seed 1: trace.json is missing"):
        cache.stored(SPEC)


@pytest.mark.parametrize("damage", ["manifest_null", "manifest_list", "code_list", "stack_int",
                                    "stack_nested", "wall_null", "wall_text",
                                    "manifest_is_a_fifo"])
def test_the_inventory_skips_a_damaged_entry_and_lists_the_rest(tmp_path, damage):
    """`python -m lowent cache` reads every entry's manifest and spec.json: one of a wrong
    shape is skipped as broken (the cache retrains it when asked), never a crash or a hang."""
    from lowent import inventory

    cache = Cache(tmp_path)
    cache.get(SPEC, train_fn=CountingTrain())
    d = entry(cache, SPEC, 1)
    manifest, meta = json.loads((d / "manifest.json").read_text()), None
    if damage == "manifest_is_a_fifo":
        os.remove(d / "manifest.json")
        os.mkfifo(d / "manifest.json")
    elif damage.startswith("manifest") or damage == "code_list":
        (d / "manifest.json").write_text({"manifest_null": "null", "manifest_list": "[1]"}.get(
            damage) or json.dumps({**manifest, "code": [1]}))
    else:
        meta = json.loads((d / "spec.json").read_text())
        meta.update({"stack_int": {"stack": 3}, "stack_nested": {"stack": [[0]]},
                     "wall_null": {"wall_s": None}, "wall_text": {"wall_s": "x"}}[damage])
        (d / "spec.json").write_text(json.dumps(meta))
    from lowent.cache import code_version

    groups = inventory.groups(cache)  # seed 0 listed as this code's, seed 1 skipped (or, its
    assert [g.spec.seeds for g in groups if g.code == code_version()] == [(0,)]  # code a list,
    assert len(groups) == 1 + (damage == "code_list")  # listed as another version's)
    assert any("runs of this code and torch: 1" in line
               for line in inventory.report(cache, inventory.checkpoints(cache)))


@pytest.mark.parametrize("what", ["dangling_link", "huge_pid", "lock_is_a_directory"])
def test_orphans_of_odd_shapes_never_crash_the_inventory(tmp_path, what):
    from lowent import inventory
    from lowent.cache import TMP_PREFIX

    cache = Cache(tmp_path)
    (tmp_path / "checkpoints").mkdir(parents=True)
    if what == "dangling_link":
        (tmp_path / "checkpoints" / ".ab12.pt.otherhost.1.tmp").symlink_to(tmp_path / "gone")
    elif what == "huge_pid":
        import socket

        (tmp_path / "checkpoints" / f".ab12.pt.{socket.gethostname()}.{10**30}.tmp").write_text("")
    else:
        (tmp_path / f"{TMP_PREFIX}abc-1").mkdir()
        (tmp_path / "abc.lock").mkdir()
    found = inventory.orphans(cache)  # no exception
    assert what != "huge_pid" or len(found) == 1  # no such process: an orphan


def test_training_slots_of_any_number_cost_nothing_until_tried(tmp_path):
    from lowent.plugin.slots import TrainingSlots

    slots = TrainingSlots(tmp_path, 10**9)
    with slots.hold() as k:
        assert k == 0
    assert len(slots.locks) == 1
