"""Generated from protos/; do not edit (python -m fixbridge.proto.generate)."""
