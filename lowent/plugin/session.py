"""The claims session: lowent's settings, read once per pytest process.

Each setting is an option, an environment variable and an ini key, in that order of
precedence (:data:`SETTINGS`); ``--lowent-report`` is an option only. ``pytest_configure``
reads and checks them once into a :class:`ClaimsSession` kept on the config's stash; the
fixtures and hooks of the plugin take it from there (:func:`session_of`). A bad value is a
one-line usage error before anything runs.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from lowent.cache import Cache
from lowent.config import SpecError
from lowent.profiles import DEFAULT_PROFILE, PROFILES, Profile, get_profile
from lowent.progress import usable_cores
from lowent.seedtext import format_seeds, read_seeds

DEVICES = ("auto", "cpu", "cuda")
EXECUTORS = ("local", "ray")
DEFAULT_REPORT = "reports/latest.html"


@dataclass(frozen=True)
class Setting:
    env: str  # the environment variable
    default: str
    choices: tuple | None  # the values it takes (None: any)
    help: str


SETTINGS = {
    "profile": Setting("LOWENT_PROFILE", DEFAULT_PROFILE, tuple(PROFILES),
                       "training profile of the claims"),
    "cache": Setting("LOWENT_CACHE", ".lowent-cache", None,
                     "directory of the run cache (relative paths: from the rootdir)"),
    "device": Setting("LOWENT_DEVICE", "auto", DEVICES,
                      "device the claims' runs train on; auto picks CUDA when a GPU is present"),
    "seeds": Setting("LOWENT_SEEDS", "", None,
                     "model seeds of every configuration instead of the profile's, e.g. 0-4 or "
                     "0,2,5-7 (a subset: seed s trains the same in any set, so it shares the "
                     "cache)"),
    "slots": Setting("LOWENT_SLOTS", "auto", None,
                     "how many processes sharing the cache may train runs at once (auto: on "
                     "the CPU, its usable cores over torch's threads per process; no limit on "
                     "CUDA; 0: no limit)"),
    "executor": Setting("LOWENT_EXECUTOR", "local", EXECUTORS,
                        "what trains the missing runs: local (this process and its xdist "
                        "siblings, within the slots) or ray (Ray tasks on the cluster "
                        "$RAY_ADDRESS names, else on a local one; stored from this process)"),
    "task_seeds": Setting("LOWENT_TASK_SEEDS", "all", None,
                          "seeds per training task of the ray executor and of a plan (python "
                          "-m lowent plan): all (a run's missing seeds stacked in one task) or "
                          "a whole number >= 1 (1: a task per seed, the most a cluster can "
                          "spread; a seed trains the same in any stack); the local executor "
                          "stacks a run's seeds whatever it says"),
    "differing": Setting("LOWENT_DIFFERING", "skip", ("skip", "judge"),
                         "claims whose verdict on the profile's layout differs from faithful "
                         "training's (claims/CALIBRATION.md): skip them (untrained, unjudged) "
                         "or judge them on that layout anyway"),
}


@dataclass(frozen=True)
class ClaimsSession:
    """What a pytest process knows about the claims it runs, read once from the settings."""

    profile: Profile  # with the seeds setting as its seeds, if given
    profile_name: str  # the profile's name, with the seeds when the setting replaces them
    cache: Cache
    device: str  # "cpu" or "cuda" (auto resolved)
    slots: int | None  # processes that may train at once (None: no limit)
    differing: str  # "skip" or "judge"
    executor: str  # "local" or "ray"
    task_seeds: int | None  # seeds per Ray or plan task (None: all of a run's missing seeds)
    report: Path | None  # where the claims report goes (None: nowhere)

    def not_judged(self, claim_id: str) -> str | None:
        """Why `claim_id` is not judged in this session (None: it is).

        A layout other than faithful stands in for the paper's loop only where a recorded
        calibration shows it gives the same verdict (claims/README.md, "Verdicts judged on
        faithful training"); where the two were compared and differ (the claim's entry says
        ``trie="differs"``), the claim is skipped under the trie, its runs untrained, unless
        ``differing`` is ``judge``."""
        from lowent.claims import get_claim

        prof = self.profile
        if (prof.layout != "trie" or get_claim(claim_id).trie != "differs"
                or self.differing == "judge"):
            return None
        return (f"not judged under the {prof.name} profile: its {prof.layout} verdict differs "
                "from faithful training's (claims/CALIBRATION.md), and a shortcut layout stands "
                "in for the paper's loop only where the two agree; judge it with "
                f"--lowent-profile paper (faithful), or see the {prof.layout} verdict with "
                "--lowent-differing judge")


def option(name: str) -> str:
    """The command-line option of setting `name` (``task_seeds``: ``--lowent-task-seeds``)."""
    return "--lowent-" + name.replace("_", "-")


def setting(config, name: str) -> str:
    """A lowent setting: ``--lowent-NAME``, else ``$LOWENT_NAME``, else the ``lowent_NAME`` ini
    key, else its default; a value outside its choices is a one-line usage error."""
    s = SETTINGS[name]
    given = config.getoption(f"lowent_{name}")
    if given == "":
        raise pytest.UsageError(f"lowent: {option(name)} is empty; give a value or leave the "
                                "option out")
    value = given or os.environ.get(s.env) or config.getini(f"lowent_{name}") or s.default
    if s.choices is not None and value not in s.choices:
        raise pytest.UsageError(f"lowent: unknown {name} {value!r} (from {option(name)}, "
                                f"${s.env} or lowent_{name}); choose from {', '.join(s.choices)}")
    return value


def _profile(config) -> tuple[Profile, str]:
    name = setting(config, "profile")
    prof = get_profile(name)
    text = setting(config, "seeds")
    if text:
        try:
            prof = prof.replace(seeds=tuple(sorted(read_seeds(text))))
        except SpecError as exc:
            raise pytest.UsageError(f"lowent: {exc} (from --lowent-seeds, $LOWENT_SEEDS or "
                                    "lowent_seeds)") from None
        name += f" (seeds {format_seeds(prof.seeds)})"
    return prof, name


def _device(config) -> str:
    name = setting(config, "device")
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    from lowent.host import resolve_device

    try:
        resolve_device(name)
    except (ValueError, RuntimeError) as exc:
        raise pytest.UsageError(f"lowent: {exc}") from None
    return name


def _slots(config, device: str) -> int | None:
    """``auto``: on the CPU, the cores this process may use over torch's threads per process
    (``-n 4`` on 2 cores with one thread per worker: 2); no limit on CUDA. A number n >= 1
    sets it; 0 lifts it."""
    text = setting(config, "slots")
    if text == "auto":
        if device != "cpu":
            return None
        import torch

        return max(1, usable_cores() // max(1, torch.get_num_threads()))
    try:
        n = int(text)
        if n < 0:
            raise ValueError
    except ValueError:
        raise pytest.UsageError(f"lowent: train slots {text!r} (from --lowent-slots, "
                                "$LOWENT_SLOTS or lowent_slots) is not auto or a whole number "
                                ">= 0") from None
    return n or None


def build(config) -> ClaimsSession:
    """Read and check every setting once."""
    prof, name = _profile(config)
    device = _device(config)
    root = os.path.expanduser(setting(config, "cache"))  # ~ as a shell would (ini, env)
    if not os.path.isabs(root):
        root = os.path.join(str(config.rootpath), root)
    report = config.getoption("--lowent-report")
    report = None if not report or report.lower() == "none" else Path(report)
    if report is not None and not report.is_absolute():
        report = Path(config.invocation_params.dir) / report
    return ClaimsSession(profile=prof, profile_name=name, cache=Cache(root, device=device),
                         device=device,
                         slots=_slots(config, device), differing=setting(config, "differing"),
                         executor=_executor(config), task_seeds=_task_seeds(config),
                         report=report)


def _task_seeds(config) -> int | None:
    """``all`` (None: a run's missing seeds in one task) or a whole number >= 1."""
    text = setting(config, "task_seeds")
    if text == "all":
        return None
    try:
        n = int(text)
        if n < 1:
            raise ValueError
    except ValueError:
        raise pytest.UsageError(f"lowent: seeds per task {text!r} (from --lowent-task-seeds, "
                                "$LOWENT_TASK_SEEDS or lowent_task_seeds) is not all or a whole "
                                "number >= 1") from None
    return n


def _executor(config) -> str:
    """The executor setting; ``ray`` needs Ray installed and one pytest process (Ray spreads
    the training; pytest-xdist workers would each start a cluster of their own)."""
    name = setting(config, "executor")
    if name == "ray":
        from lowent.ray_executor import require_ray

        try:
            require_ray()
        except SpecError as exc:
            raise pytest.UsageError(f"lowent: {exc}") from None
        if hasattr(config, "workerinput") or config.getoption("numprocesses", None):
            raise pytest.UsageError("lowent: the ray executor spreads the training over Ray's "
                                    "workers; run pytest without -n (pytest-xdist)")
    return name


KEY = pytest.StashKey[ClaimsSession]()


def session_of(config) -> ClaimsSession:
    """The session built in ``pytest_configure``."""
    return config.stash[KEY]


def pytest_addoption(parser):
    group = parser.getgroup("lowent")
    for name, s in SETTINGS.items():
        among = f"{{{','.join(s.choices)}}}" if s.choices else name.upper()
        group.addoption(option(name), dest=f"lowent_{name}", default=None, metavar=among,
                        help=f"{s.help} (else ${s.env}, else ini lowent_{name}; default "
                             f"{s.default})")
        parser.addini(f"lowent_{name}", f"lowent: {s.help}", default=None)
    group.addoption("--lowent-report", default=DEFAULT_REPORT, metavar="PATH",
                    help="write the claims report here (and results.json beside it) when claim "
                         f"tests ran; 'none' writes nothing (default {DEFAULT_REPORT})")
    group.addoption("--lowent-plan", default=None, metavar="PATH",
                    help="train nothing and run no test: write the work list of the selected "
                         "claims' missing runs, with estimated costs, to PATH as JSON ('-': "
                         "only print it); python -m lowent plan runs this, python -m lowent "
                         "work trains one task of it")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Build the session before the plugin's other modules configure (they read it)."""
    config.stash[KEY] = session = build(config)
    if config.getoption("lowent_plan", None) and (
            hasattr(config, "workerinput") or config.getoption("numprocesses", None)):
        raise pytest.UsageError("lowent: --lowent-plan lists the work in one process; run it "
                                "without -n (pytest-xdist)")
    if not hasattr(config, "workerinput"):  # the controller, or the only process
        check_paths(session)
        plan = config.getoption("lowent_plan", None)
        if plan and plan != "-":
            from lowent.paths import writable_file

            try:
                writable_file(Path(plan), "the plan (--lowent-plan)")
            except SpecError as exc:
                raise pytest.UsageError(f"lowent: {exc}") from None
        lost = lost_configuration(config)
        if lost is not None:
            config.issue_config_time_warning(pytest.PytestConfigWarning(lost), stacklevel=2)


def check_paths(session: ClaimsSession) -> None:
    """The cache and the report must be writable before anything trains: one usage line
    otherwise (lowent.paths)."""
    from lowent.paths import writable_dir, writable_file

    try:
        writable_dir(session.cache.root, "the cache (--lowent-cache, $LOWENT_CACHE)")
        if session.report is not None:
            writable_file(session.report, "the report (--lowent-report)")
    except SpecError as exc:
        raise pytest.UsageError(f"lowent: {exc}") from None


def lost_configuration(config) -> str | None:
    """A warning when pytest found no configuration file and a lowent option's value was
    given after a space: pytest finds its rootdir before it loads lowent and takes that value
    for a test path, so a path outside the project moves the rootdir off the project's
    pyproject.toml, and its settings (the default -m among them) are lost."""
    if config.inipath is not None:
        return None
    options = {f"--lowent-{name}" for name in SETTINGS} | {"--lowent-report"}
    spaced = [str(a) for a in config.invocation_params.args if str(a) in options]
    if not spaced:
        return None
    return (f"lowent: no configuration file found (rootdir {config.rootpath}), so a "
            f"project's pytest settings, its default -m among them, do not apply; pytest may "
            f"have read the value after {spaced[0]} as a test path while finding the rootdir: "
            f"write {spaced[0]}=VALUE")


def pytest_report_header(config):
    s = session_of(config)
    return f"lowent profile: {s.profile_name}, device: {s.device}, cache: {s.cache.root}"
