"""``fixbridge reconcile``: one trade date's journal against the exchange's Report API and
against what each FIX session was sent (``compare`` pure, ``journal_side``, ``exchange_side``
and ``sessions`` reading, ``command`` running and printing). It must never write the journal.
"""
