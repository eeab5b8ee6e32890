"""Reports: presentation only. Results of ``etl.read`` in every output format.

* ``etl.read`` answers the questions (read-only, exact decimals): the catalog as of a time,
  net differences and change events, one model's timeline and price series, price tables.
* :mod:`~etl.reports.document` is the format-neutral document (titled sections of rows of
  cells, prices already formatted); :mod:`~etl.reports.change_document`,
  :mod:`~etl.reports.history_document` and :mod:`~etl.reports.price_document` build one.
* One module per format writes a document out: :mod:`~etl.reports.terminal` (rich tables),
  :mod:`~etl.reports.markdown`, :mod:`~etl.reports.html` (one self-contained file),
  :mod:`~etl.reports.csv_out`, and :mod:`~etl.reports.charts` (price step charts: inline SVG
  drawn by :mod:`~etl.reports.svg_chart`, files for ``catalog-etl chart`` with matplotlib).
  JSON comes straight from each result's ``to_json()``. :mod:`~etl.reports.feed` writes the
  Atom feed of what each sync changed.

May import: ``etl.read`` and everything below it; never ``etl.store``, ``etl.service`` or
``etl.cli``.
"""
