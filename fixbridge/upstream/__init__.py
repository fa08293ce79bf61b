"""The exchange side: gRPC channels and the DropCopyAPI stream subscribers."""
