"""Local media: input checks against a model's limits, probing, and the clip tools.

Uses: the catalogue and the base modules."""
