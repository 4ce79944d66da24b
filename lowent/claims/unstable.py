"""Claim tests whose outcome moved between the machines and seed sets of the recorded
stability table (claims/STABILITY.md): test id -> the outcomes it took there. The report and
the terminal mark them "outcome unstable across machines"; this is a record of those runs,
not a measurement of the run that prints it. Rebuild the table with
``python -m lowent stability NAME=results.json ...``."""

ACROSS_MACHINES: dict[str, str] = {
    "claims/test_residual_paths.py::TestLargerTransformersPreferTheResidualPath::"
    "test_d64_routing_fractions_match_the_papers_figures":
        "contradicted in 4 of 5 runs, not equivalent in 1",
}
