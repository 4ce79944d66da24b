"""The paper's claims (SPEC 7): id -> marker and sentence. The report, the README's table
and the claim tests all use these ids and markers."""
from __future__ import annotations

PAPER = ("Ren & Liu, Revisiting Transformers through the Lens of Low Entropy and Dynamic "
         "Sparsity, arXiv:2504.18929 (2025)")

CLAIMS: dict[str, tuple[str, str]] = {
    "L1": ("low_entropy", "Larger Transformers end below the target entropy: for d >= 32, "
                          "H(p_theta) < H(p_tgt), and H decreases with size."),
    "L2": ("low_entropy", "RNNs do not: GRU/LSTM H stays near H(p_tgt), while at matched size "
                          "the Transformer's H is lower and its KL higher."),
    "L3": ("low_entropy", "Larger Transformers are more deterministic: the sparse-part mass "
                          "and the non-sparse-part entropy both fall with size; RNNs approach "
                          "the true non-sparse entropy."),
    "F1": ("ffn_bias", "The FFN drives the bias: attention_only H > H(p_tgt); attention_main "
                       "near H(p_tgt); ffn_main and full below it."),
    "F2": ("kl_loss", "For each variant, KL is linear in the training loss across "
                      "configurations; equal loss does not imply equal KL across variants."),
    "R1": ("residual_paths", "With routing, larger Transformers put more weight near 0 on paths "
                             "and more residual weight near 1."),
    "S1": ("ffn_sparsity", "Larger Transformers have fewer active neurons."),
    "S2": ("loss_spikes", "Sparsity grows in jumps: the dead-neuron count rises in steps, and "
                          "the steps coincide with loss spikes (d=64, Adam)."),
    "S3": ("optimizers", "SGD+momentum shows neither loss spikes nor dead-neuron jumps; "
                         "RMSprop and adam_2nd show more instability and sparsity; AdamW "
                         "behaves like Adam."),
    "S4": ("loss_spikes", "Spikes are rarer in smaller models, rarer in RNNs than "
                          "Transformers, and also occur in attention_only models."),
    "D1": ("robustness", "L1, L2, F1 still hold on the lower- and higher-entropy targets."),
    "E1": ("engine", "The fast engine and the faithful per-sample loop agree: identical "
                     "trajectories with dropout 0; indistinguishable final H, KL with "
                     "dropout 0.1."),
}
