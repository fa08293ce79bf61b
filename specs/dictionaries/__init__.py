"""fixbridge's QuickFIX data dictionaries, one folder per ``fix_profile`` (exchange, fix50sp2,
latest), each with ``FIXT11-fixbridge.xml`` and ``FIX50SP2-fixbridge.xml``.

Written by specs/generate_dictionary.py (never by hand); installed with fixbridge as the package
``fixbridge.dictionaries``, from which ``fixbridge dictionary --profile P --out DIR`` copies them.
Holds no code.
"""
