"""``python -m fixbridge`` is the same as the ``fixbridge`` console script."""

from fixbridge.cli import main

raise SystemExit(main())
