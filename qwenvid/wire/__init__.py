"""The DashScope wire: HTTP plumbing, deadlines, the API client (submit, query, list, cancel, uploads), downloads.

Uses: requests, media, the catalogue, config and the base modules."""
