"""Pure mapping from exchange protobuf messages to domain events and FIX field lists.

Nothing in this package does I/O, reads a clock or sleeps: inputs in, values or typed errors out.
"""
