"""L1, L2, L3 (marker ``low_entropy``): Transformers learn lower-entropy distributions.

Section 3.1 of the paper; the tests, margins and families are fixed in claims/README.md.
"""
import numpy as np
import pytest

from claims import figures
from claims.conftest import summary
from lowent.stats import conjunction, equivalence, one_sample, trend, two_sample

pytestmark = pytest.mark.low_entropy

MARGIN = 0.05  # nats: "fluctuates around H(p_tgt)" read as within 0.05 (claims/README.md)

# Measured with the paper profile (10 seeds, 100 epochs, matched depth L = 1, dropout 0.1,
# torch 2.13.0 CPU); H(p_tgt) = 3.6078 nats. Figures are last-15-epoch means +- seed SD.
L1_FIGURES = (
    "does not reproduce at d = 64: H = 3.6051 +- 0.0075 is not below H(p_tgt) = 3.6078 "
    "(Holm p = 0.14); d = 32: 3.6011 +- 0.0057 is below (p = 0.007) and H falls with d "
    "(Page p = 0.007), driven by d = 8 (3.6644) -> 16 (3.6007); d = 16/32/64 are flat")
L2_FIGURES = (
    "does not reproduce: RNNs end above H(p_tgt) = 3.6078 by more than 0.05 nats "
    "(GRU d=32 3.7224, d=64 3.6728; LSTM d=32 3.6836; only LSTM d=64 3.6488 is within), and "
    "at d = 64 the matched Transformer's KL is lower, not higher (0.0112 vs GRU 0.0288, "
    "LSTM 0.0148); its H is lower (3.6051) as claimed")
L3_FIGURES = (
    "does not reproduce: the Transformer's non-sparse entropy rises with d (3.4147, 3.5651, "
    "3.5811, 3.5850 nats for d = 8..64; Page p = 1), while its sparse mass falls (0.0316 -> "
    "0.0018) and the RNNs approach H(p_tgt) as claimed")


def _means(values: dict) -> str:
    return ", ".join(f"d={d}: {np.mean(v):.4f}" for d, v in values.items())


class TestTransformersPreferLowEntropy:
    @pytest.mark.xfail(strict=True, reason=L1_FIGURES)
    def test_larger_transformers_end_below_the_target_entropy(
            self, size_sweep, profile, target_entropy, record_verdict, record_figure):
        """L1. "we notice that in the later stages of training, H(p_T) with larger models
        (d >= 32) is often smaller than H(p_tgt) [...] as the model size increases, H(p_T)
        generally decreases." (Sec. 3.1, Fig. 2 left)"""
        H = {d: summary(size_sweep["transformer", d], "entropy", profile.window)
             for d in profile.sizes}
        runs = {f"Transformer d={d}": size_sweep["transformer", d] for d in profile.sizes}
        record_figure(figures.epoch_curves(runs, "entropy", "Entropy over training (Fig. 2 left)",
                                           target_entropy))
        record_figure(figures.epoch_curves(runs, "kl", "KL over training (Fig. 2 left)"))
        v = record_verdict(conjunction(
            [one_sample(H[32], target_entropy, "less"), one_sample(H[64], target_entropy, "less"),
             trend([H[d] for d in profile.sizes], "decreasing")],
            labels=["d = 32: H < H(p_tgt)", "d = 64: H < H(p_tgt)", "H decreases with d"],
            claim="L1", statement="for d >= 32, H(p_theta) < H(p_tgt); H decreases with d",
            paper=f"d >= 32 below H(p_tgt) = {target_entropy:.4f} nats; H falls with d (Fig. 2 left)",
            ours=f"H (nats) {_means(H)}"))
        assert v.passed, str(v)

    @pytest.mark.xfail(strict=True, reason=L2_FIGURES)
    def test_rnns_stay_near_the_target_while_matched_transformers_go_lower(
            self, size_sweep, profile, target_entropy, record_verdict, record_figure):
        """L2. "when enlarging the model size, H(p_R) fluctuates around H(p_tgt) while H(p_T)
        is significantly lower than H(p_tgt) even though Transformer does not model the target
        distribution as well as LSTM." (Sec. 3.1, Fig. 2 centre)"""
        H = {(k, d): summary(size_sweep[k, d], "entropy", profile.window)
             for k in ("transformer", "gru", "lstm") for d in (32, 64)}
        KL = {k: summary(size_sweep[k, 64], "kl", profile.window)
              for k in ("transformer", "gru", "lstm")}
        record_figure(figures.scatter(
            {f"{k} d={d}": (summary(size_sweep[k, d], "kl", profile.window),
                            summary(size_sweep[k, d], "entropy", profile.window))
             for k in ("transformer", "gru", "lstm") for d in profile.sizes if d >= 16},
            "Transformer (matched depth) vs RNNs, per seed (Fig. 2 right)",
            "KL(p_tgt || p_theta) (nats)", "H(p_theta) (nats)", (target_entropy, "H(p_tgt)")))
        record_figure(figures.by_size(
            {k: {d: summary(size_sweep[k, d], "entropy", profile.window) for d in profile.sizes}
             for k in ("transformer", "gru", "lstm")},
            "Final entropy against size (Fig. 2 centre)", "H(p_theta) (nats)",
            (target_entropy, "H(p_tgt)")))
        family = [equivalence(H[k, d], target_entropy, MARGIN)
                  for k in ("gru", "lstm") for d in (32, 64)]
        family += [two_sample(H["transformer", 64], H[k, 64], "less") for k in ("gru", "lstm")]
        family += [two_sample(KL["transformer"], KL[k], "greater") for k in ("gru", "lstm")]
        labels = [f"{k} d = {d}: H within 0.05 of H(p_tgt)" for k in ("gru", "lstm") for d in (32, 64)]
        labels += [f"d = 64: H(Transformer) < H({k})" for k in ("gru", "lstm")]
        labels += [f"d = 64: KL(Transformer) > KL({k})" for k in ("gru", "lstm")]
        v = record_verdict(conjunction(
            family, labels=labels, claim="L2",
            statement="GRU/LSTM H within 0.05 nats of H(p_tgt) (d = 32, 64); at d = 64 the "
                      "matched Transformer has lower H and higher KL than both",
            paper="RNN H fluctuates around H(p_tgt); Transformer H lower, KL higher (Fig. 2)",
            ours="H (nats) " + ", ".join(f"{k} d={d}: {np.mean(h):.4f}" for (k, d), h in H.items())
                 + "; KL d=64 " + ", ".join(f"{k}: {np.mean(x):.4f}" for k, x in KL.items())))
        assert v.passed, str(v)

    @pytest.mark.xfail(strict=True, reason=L3_FIGURES)
    def test_larger_transformers_are_more_deterministic(
            self, size_sweep, profile, target_entropy, record_verdict, record_figure):
        """L3. "As the model size increases, the probabilities assigned by Transformers to the
        sparse part become lower [...] At the same time, the entropy of the non-sparse part
        decreases [...] In contrast, RNNs gradually approach the true entropy in non-sparse
        part as model size increases." (Sec. 3.1, Fig. 3)"""
        sizes = profile.sizes
        mass = [summary(size_sweep["transformer", d], "mass_sparse", profile.window) for d in sizes]
        hns = [summary(size_sweep["transformer", d], "entropy_nonsparse", profile.window)
               for d in sizes]
        gap = {k: [np.abs(summary(size_sweep[k, d], "entropy_nonsparse", profile.window)
                          - target_entropy) for d in sizes] for k in ("gru", "lstm")}
        kinds = ("transformer", "gru", "lstm")
        for metric, title in (("mass_sparse", "Mass on the sparse part (Fig. 3 left)"),
                              ("entropy_nonsparse", "Entropy of the non-sparse part (Fig. 3 right)")):
            record_figure(figures.by_size(
                {k: {d: summary(size_sweep[k, d], metric, profile.window) for d in sizes}
                 for k in kinds}, title, figures.UNITS[metric],
                (target_entropy, "H(p_tgt)") if metric == "entropy_nonsparse" else None))
        v = record_verdict(conjunction(
            [trend(mass, "decreasing"), trend(hns, "decreasing"),
             trend(gap["gru"], "decreasing"), trend(gap["lstm"], "decreasing")],
            labels=["Transformer sparse mass falls with d",
                    "Transformer non-sparse entropy falls with d",
                    "GRU: |non-sparse H - H(p_tgt)| falls with d",
                    "LSTM: |non-sparse H - H(p_tgt)| falls with d"],
            claim="L3", statement="with d, Transformer sparse mass and non-sparse entropy fall; "
                                  "RNN non-sparse entropy approaches H(p_tgt)",
            paper="sparse-part mass and non-sparse entropy fall with size; RNNs approach the "
                  "true non-sparse entropy (Fig. 3)",
            ours="Transformer sparse mass " + _means(dict(zip(sizes, mass)))
                 + "; non-sparse H " + _means(dict(zip(sizes, hns)))
                 + "; |RNN non-sparse H - H(p_tgt)| GRU " + _means(dict(zip(sizes, gap["gru"])))
                 + ", LSTM " + _means(dict(zip(sizes, gap["lstm"])))))
        assert v.passed, str(v)
