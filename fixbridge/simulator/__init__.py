"""The embedded simulated exchange: a seeded market behind a real polymarket.v1.DropCopyAPI.

* :mod:`.market` - the pure, seeded market model (``MarketModel.step(now_ns)``);
* :mod:`.exchange`, :mod:`.book`, :mod:`.orders`, :mod:`.positions` - its matching engine;
* :mod:`.refdata` - the fixed symbols, firms and accounts;
* :mod:`.amounts`, :mod:`.times` - its own decimal texts, timestamps and trade dates;
* :mod:`.store`, :mod:`.streams`, :mod:`.subscription`, :mod:`.tokens`, :mod:`.servicer` - the
  event logs and the four gRPC streams served from them;
* :mod:`.report` - the ReportAPI searches over the same logs;
* :mod:`.refdata_api` - RefDataAPI.ListInstruments, the current state of every instrument;
* :mod:`.faults` - the fault plan tests switch at run time (and ``--faults`` on the command line);
* :mod:`.server` - ``SimulatorServer`` (asyncio) and ``SimulatorThread`` (for tests);
* :mod:`.cli` - ``fixbridge simulate``.

The simulator is a test and demo tool: nothing in the bridge may import it on its data path.
It is also the bridge's independent check, so it imports nothing from the bridge either: only
the contract (``fixbridge.proto``) and itself.
"""
