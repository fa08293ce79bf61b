"""The FIXT.1.1 acceptor: codec and sans-IO session (pure), asyncio acceptor (the I/O edge)."""
