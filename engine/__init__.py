"""The SAGA engine: splat rendering, mask lifting and queries. Never imports ``bpy``."""

__version__ = "0.1.0"
