"""Evaluation against the synthetic scene's ground truth (the accuracy benchmark's protocol)."""
