"""Where and how jobs compute: device choice, seeded randomness, out-of-memory as a user error."""
