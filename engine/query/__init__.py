"""Prompted segmentation, segment-everything and selection post-processing on a trained scene."""
