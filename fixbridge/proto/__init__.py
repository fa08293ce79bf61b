"""The exchange's gRPC contract (polymarket.v1), generated from protos/ and committed."""
