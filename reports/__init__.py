"""The claims report: a pytest plugin that writes the HTML verdict report and results.json."""
