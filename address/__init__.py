"""Address normalization, validation against the official region list, and geocoding."""
