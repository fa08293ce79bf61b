"""fixbridge: a read-only FIX 5.0 SP2 drop-copy gateway for the polymarket.v1 DropCopyAPI."""

__version__ = "0.1.0"
