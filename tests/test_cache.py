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
                                    "files_list", "unreadable_weights", "entry_is_a_file"])
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
    else:  # B4: the entry's path replaced by a file; storing the retrained run replaces it
        import shutil

        shutil.rmtree(d)
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
