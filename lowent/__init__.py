"""lowent: an exact, statistically tested check of Ren & Liu (arXiv:2504.18929)."""
__version__ = "0.1.0"
