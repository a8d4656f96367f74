"""Weights-free 3D segmentation of a splat: the splat is itself a 3D reconstruction, so its Gaussians are grouped
in 3D (positions, normals from each Gaussian's flattest axis, colour, opacity), into a hierarchy that is the same
from every view by construction.

* ``geometry``: per-Gaussian points, oriented normals, flatness, colour, and which Gaussians are solid;
* ``supervoxels``: small compact patches of similar colour and normal (VCCS-like clustering, connected);
* ``patch_graph``: the patches' adjacency with the boundary statistics (colour contrast, concavity, contact);
* ``supports``: large horizontal planes things stand on (floors, table tops);
* ``hierarchy``: agglomerative merging of patches into parts, objects (connected, split at concave creases) and
  groups (a support with what stands on it), cut at several levels;
* ``hidden``: labels and features for Gaussians no view sees, from their segments and neighbours.
"""
