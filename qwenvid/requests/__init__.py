"""Generation requests: typed requests per mode, the exact wire body and its checks, cold priors, cost figures.

Uses: media, the catalogue, config and the base modules."""
