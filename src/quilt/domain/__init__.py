"""Pure domain logic: ids, states, transitions, readiness and validation rules (no I/O)."""
