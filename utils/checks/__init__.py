"""Per-assignment question checks: utils/checks/<topic>.py holds one check per graded question."""
