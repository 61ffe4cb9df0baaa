"""Named migrations, applied in order."""
