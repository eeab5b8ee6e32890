"""Reports on the history, in every output format, from one query layer.

* Queries (read-only, exact decimals): :mod:`etl.read.queries` (catalog as of a time, runs),
  :mod:`etl.read.changes` (net differences, events), :mod:`etl.read.history` (one model's
  timeline, price series), :mod:`etl.read.prices` (price tables).
* :mod:`etl.reports.document` turns those results into format-neutral documents: titled
  sections of rows of cells, with the prices already formatted.
* One module per format writes a document out: :mod:`~etl.reports.terminal` (rich tables),
  :mod:`~etl.reports.markdown`, :mod:`~etl.reports.html` (one self-contained file),
  :mod:`~etl.reports.csv_out`, and :mod:`~etl.reports.charts` (matplotlib step charts).
  JSON comes straight from each result's ``to_json()``.
"""
