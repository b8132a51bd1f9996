"""The scheduling benchmark: `generate` builds the standard clinic, `run` measures it (`make bench`)."""
