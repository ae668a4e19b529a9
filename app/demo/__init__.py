"""`antar demo`: synthetic print runs and the end-to-end demo run."""
