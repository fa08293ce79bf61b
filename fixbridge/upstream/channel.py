"""gRPC channel to the exchange with the keepalive and size settings the exchange recommends."""

from __future__ import annotations

import grpc

from fixbridge.config import UpstreamConfig

# spec/exchange-api.md §4.9: keepalive 60 s / 20 s, permitted without calls; 10 MB messages.
CHANNEL_OPTIONS = (
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.max_receive_message_length", 10 * 1024 * 1024),
)


def open_channel(config: UpstreamConfig) -> grpc.aio.Channel:
    if not config.tls:
        return grpc.aio.insecure_channel(config.target, options=CHANNEL_OPTIONS)
    root = config.ca_file.read_bytes() if config.ca_file is not None else None
    credentials = grpc.ssl_channel_credentials(root_certificates=root)
    return grpc.aio.secure_channel(config.target, credentials, options=CHANNEL_OPTIONS)
