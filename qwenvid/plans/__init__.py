"""Plans: many generations and multi-step chains from one file (parse, validate, identity, schedule, manifest, extend).

Uses: tasks and everything below them."""
