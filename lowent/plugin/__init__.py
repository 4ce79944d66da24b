"""lowent's pytest plugin, registered through the ``pytest11`` entry point ``lowent`` (so
``-p no:lowent`` turns all of it off).

* :mod:`lowent.plugin.runs`: the settings (``--lowent-profile``, ``--lowent-cache``,
  ``--lowent-device``; also environment variables and ini keys), the claim markers from the
  registry (:mod:`lowent.claims`), ``-k`` keywords of claim ids, the scheduling of the
  selected claims' runs across xdist workers, and the session fixtures that hand tests
  trained runs through the cache;
* :mod:`lowent.plugin.report`: the claims report (HTML + results.json), the verdict table in
  the terminal, and pytest-html extras.
"""
pytest_plugins = ["lowent.plugin.runs", "lowent.plugin.report"]
