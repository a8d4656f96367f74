"""SAGA feature training: training views, mask scales, pixel identities, pair sampling, the trainer."""
