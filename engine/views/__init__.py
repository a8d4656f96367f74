"""Training views: a camera with its image, and the depth and alpha rendered from the frozen splat.

``TrainingView`` (``training_view``) is what mask sources and the trainer consume; ``view_sources`` makes them
from the splat itself (automatic views) or from a capture's photos (COLMAP / transforms.json).
"""
