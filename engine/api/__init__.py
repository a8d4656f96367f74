"""The engine API: what the CLI, the service, the demo and Blender's engine connection all call.

* ``prepare_spec.PrepareSpec``: every option of a prepare and its default, once;
* ``scene_files.read_scene``: a splat file read (no printing), with its content hash;
* ``prepare.plan_prepare`` / ``run_prepare``: check everything, then train into a staging folder and swap it in;
* ``work_folder.WorkFolder``: the one route to a work folder's checkpoint, cameras, lock and staging;
* ``trained_scene.open_trained``: a prepared scene open for selections and clusters;
* ``selection``: ids checked and a splat cut by them; ``npy_files``: input arrays read header first;
* ``errors.USER_ERRORS``: what the shells turn into a message instead of a traceback.

Below it: ``saga_blender.core`` and the engine's library (cameras, render, views, masks, training, query). Above
it: ``cli``, ``train_command``, ``query_commands``, ``demo`` and ``service``, which only parse, call and map errors.
"""
