"""lowent's pytest plugin, registered through the ``pytest11`` entry point ``lowent`` (so
``-p no:lowent`` turns all of it off).

* :mod:`lowent.plugin.session`: the settings (``--lowent-profile``, ``--lowent-cache``,
  ``--lowent-device``, ...; also environment variables and ini keys), read once into the
  session object the other modules take;
* :mod:`lowent.plugin.markers`: the claim markers from the registry (:mod:`lowent.claims`),
  ``-k`` keywords of claim ids, and the skips of claims not judged in the session;
* :mod:`lowent.plugin.scheduling` and :mod:`lowent.plugin.slots`: the training of the
  selected claims' runs across xdist workers, a few at a time;
* :mod:`lowent.plugin.lines`: the progress lines, printed under xdist and when piped;
* :mod:`lowent.plugin.fixtures`: the fixtures that hand tests trained runs through the cache
  and record their verdicts (with the stability rule) and figures;
* :mod:`lowent.plugin.report`: the claims report (HTML + results.json), the verdict table in
  the terminal, and pytest-html extras.
"""
pytest_plugins = ["lowent.plugin.session", "lowent.plugin.markers", "lowent.plugin.lines",
                  "lowent.plugin.scheduling", "lowent.plugin.fixtures", "lowent.plugin.report"]
