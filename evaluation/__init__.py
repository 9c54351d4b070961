"""Evaluation of face image quality scores (research code beside ``training/``; not part of the
installed runtime). Run as ``python -m evaluation``."""
