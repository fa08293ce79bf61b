"""The durable journal: upstream events with their resume tokens, and each FIX session's state."""
