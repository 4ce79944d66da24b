"""``python -m lowent cache``: runs by version, checkpoints and what becomes of each."""
import json
import os

import pytest
from filelock import FileLock

from lowent.cache import Cache, DiskCheckpoints, entry_key, stamp
from lowent.config import ModelSpec, RunSpec, TrainSpec
from lowent.inventory import checkpoints, groups, prune, report
from tests.helpers import run_cli

SPEC = RunSpec(model=ModelSpec(d_model=8, layers=1), train=TrainSpec(epochs=1), seeds=(0, 1))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A cache holding seeds 0 and 1 of SPEC (one epoch)."""
    root = tmp_path_factory.mktemp("cache")
    Cache(root).get(SPEC)
    return root


def _checkpoint(cache: Cache, seeds, code=None) -> None:
    spec = SPEC.replace(seeds=seeds)
    tag = stamp(spec)
    if code is not None:
        tag = json.dumps({**json.loads(tag), "code": code}, sort_keys=True)
    DiskCheckpoints(cache.checkpoint_path(spec), tag).save({"epoch": 1, "wall_s": 2.0})


def test_each_checkpoint_is_told_apart_and_prune_keeps_what_can_resume(trained, tmp_path):
    import shutil

    root = tmp_path / "cache"
    shutil.copytree(trained, root)
    cache = Cache(root)
    _checkpoint(cache, (0, 1))  # both seeds have entries: unused
    _checkpoint(cache, (2, 3))  # not trained: resumable
    _checkpoint(cache, (4,), code="0.0.1+000000000000")  # another code version: stale
    _checkpoint(cache, (5,))  # its seed's lock held below: locked
    (root / "checkpoints" / "junk.pt").write_bytes(b"not a checkpoint")
    busy = FileLock(str(root / f"{entry_key(SPEC.replace(seeds=(5,)))}.lock"))
    busy.acquire()
    try:
        status = {(c.spec.seeds if c.spec else None): c.status for c in checkpoints(cache)}
        assert status[(0, 1)].startswith("unused")
        assert status[(2, 3)] == "resumable: seeds 2-3 to train"
        assert status[(4,)].startswith("stale: written with another code (0.0.1+")
        assert status[(5,)].startswith("locked: a running process trains it")
        assert status[None] == "unreadable"
        cps = checkpoints(cache)
        text = "\n".join(report(cache, cps))
        assert "runs of this code and torch: 1" in text
        assert "transformer/full d=8 L=1 adam, 1 epochs, seeds 0-1, trie; cpu" in text
        assert "checkpoints: 5" in text
        assert "epoch 1 of 1, 2 s so far; resumable: seeds 2-3 to train (about 0 min to go" \
            in text
        gone = prune(cps)
    finally:
        busy.release()
    assert len(gone) == 3
    left = {c.spec.seeds for c in checkpoints(cache)}
    assert left == {(2, 3), (5,)}
    assert [g.spec.seeds for g in groups(cache)] == [(0, 1)]  # entries are never pruned


def test_entries_of_another_version_are_counted_not_listed(trained, tmp_path):
    import shutil

    root = tmp_path / "cache"
    shutil.copytree(trained, root)
    for manifest in root.glob("*/manifest.json"):
        m = json.loads(manifest.read_text())
        manifest.write_text(json.dumps({**m, "code": "0.0.1+000000000000"}))
    cache = Cache(root)
    text = "\n".join(report(cache, checkpoints(cache)))
    assert "runs of this code and torch: 0" in text
    assert "runs of other versions (kept, never read by this one): 1 (2 entries)" in text


def test_cli_lists_prunes_and_refuses_a_missing_cache(trained, tmp_path):
    import shutil

    root = tmp_path / "cache"
    shutil.copytree(trained, root)
    _checkpoint(Cache(root), (0, 1))
    run = lambda *a: run_cli("cache", *a)  # noqa: E731 - python -m lowent cache, in this process
    r = run("--cache", str(root), "--prune")
    assert r.returncode == 0, r.stderr
    assert "unused: every seed" in r.stdout and "pruned 1 checkpoints" in r.stdout
    assert not list((root / "checkpoints").glob("*.pt"))
    r = run("--cache", str(tmp_path / "nowhere"))
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f"lowent: error: no cache at {tmp_path / 'nowhere'}"]


def test_checkpoint_epoch_reads_only_checkpoints_a_run_would_resume(tmp_path):
    """Progress lines cost a resumed run from its checkpoint's epoch; a checkpoint of other
    code, or an unreadable one, is not resumed, and reading it leaves it in place."""
    cache = Cache(tmp_path)
    _checkpoint(cache, (2, 3))
    _checkpoint(cache, (4,), code="0.0.1+000000000000")
    junk = cache.checkpoint_path(SPEC.replace(seeds=(5,)))
    junk.write_bytes(b"not a checkpoint")
    assert cache.checkpoint_epoch(SPEC.replace(seeds=(2, 3))) == 1
    assert cache.checkpoint_epoch(SPEC.replace(seeds=(4,))) is None
    assert cache.checkpoint_epoch(SPEC.replace(seeds=(5,))) is None
    assert cache.checkpoint_epoch(SPEC.replace(seeds=(6,))) is None
    assert cache.checkpoint_path(SPEC.replace(seeds=(4,))).exists() and junk.exists()


def test_a_checkpoint_says_how_long_its_run_needs_at_its_pace(tmp_path):
    """Epoch 4 of 10 after 120 s: six epochs of 30 s to go (3 min), whether it resumes later
    or trains now; a stale checkpoint will not go on, so no time is given for it."""
    cache = Cache(tmp_path)
    spec = SPEC.replace(train=TrainSpec(epochs=10), seeds=(7,))
    DiskCheckpoints(cache.checkpoint_path(spec), stamp(spec)).save({"epoch": 4, "wall_s": 120.0})
    line, = [ln for ln in report(cache, checkpoints(cache)) if "so far" in ln]
    assert line.endswith("epoch 4 of 10, 120 s so far; resumable: seeds 7 to train "
                         "(about 3 min to go at its pace so far)")
    stale = json.dumps({**json.loads(stamp(spec)), "code": "0.0.1+000000000000"}, sort_keys=True)
    DiskCheckpoints(cache.checkpoint_path(spec), stale).save({"epoch": 4, "wall_s": 120.0})
    line, = [ln for ln in report(cache, checkpoints(cache)) if "so far" in ln]
    assert "stale" in line and "to go" not in line


def test_orphans_of_interrupted_writes_are_listed_and_pruned(trained, tmp_path):
    """B8: kill -9 during a write leaves an entry directory being written and a checkpoint's
    temporary file; the listing names them, --prune removes them, and a write in progress
    (its entry lock held, its writer alive) is left alone."""
    import os
    import shutil
    import socket
    import subprocess

    root = tmp_path / "cache"
    shutil.copytree(trained, root)
    cache = Cache(root)
    key = entry_key(SPEC.replace(seeds=(0,)))
    dead = subprocess.Popen(["true"])
    dead.wait()
    (root / f".tmp-{key}-abc123").mkdir()  # nobody holds its lock: an orphan
    (root / "checkpoints").mkdir(exist_ok=True)
    here = socket.gethostname()
    orphan = root / "checkpoints" / f".{'a' * 32}.pt.{here}.{dead.pid}.tmp"
    orphan.write_bytes(b"partial")
    live = root / "checkpoints" / f".{'b' * 32}.pt.{here}.{os.getpid()}.tmp"
    live.write_bytes(b"being written")
    other = entry_key(SPEC.replace(seeds=(1,)))
    (root / f".tmp-{other}-def456").mkdir()
    with FileLock(str(root / f"{other}.lock")):  # its writer holds the lock
        lines = report(cache, checkpoints(cache))
        assert "orphans of interrupted writes (--prune removes them): 2" in lines
        assert f"  .tmp-{key}-abc123" in lines and f"  {orphan.name}" in lines
        r = run_cli("cache", "--cache", str(root), "--prune")
    assert r.returncode == 0, r.stderr
    assert "removed 2 orphans of interrupted writes" in r.stdout
    assert not (root / f".tmp-{key}-abc123").exists() and not orphan.exists()
    assert live.exists() and (root / f".tmp-{other}-def456").exists()


def test_entries_are_readable_by_the_cache_directorys_group(trained):
    """An entry directory and each of its files take the umask's mode (mkdtemp's 0700 and
    safetensors' 0600 would lock the group out)."""
    import stat

    mask = os.umask(0)
    os.umask(mask)
    entries = [d for d in trained.iterdir() if d.is_dir() and len(d.name) == 32]
    assert len(entries) == 2
    for d in entries:
        assert stat.S_IMODE(d.stat().st_mode) == 0o777 & ~mask
        for f in d.iterdir():
            assert stat.S_IMODE(f.stat().st_mode) == 0o666 & ~mask, f.name
