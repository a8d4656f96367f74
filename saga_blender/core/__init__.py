"""bpy-free core shared by the Blender extension and the engine: splat formats and axis conventions."""
