"""The clinic's reference data: session types, the demo clinic."""
