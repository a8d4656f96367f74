"""Mask sources: per view, a stack of boolean masks [M, H, W] at several granularities.

Every source implements :class:`engine.masks.source.MaskSource`: SAM's automatic mask generator
(``sam_source``), the weights-free generator (``weights_free``), and user-provided masks (``user_masks``).
Masks are cached per view on disk (``mask_cache``).
"""
