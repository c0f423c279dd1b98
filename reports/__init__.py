"""Services (above the domain): the PDF opinion bulletin and the data exports, and the survey's
data read from the database for them (:mod:`reports.extract`, :mod:`reports.results`).

- ``reports.bulletin.render_bulletin(data, out, lang)`` / ``render_issue(data, directory)``
- ``reports.bulletin_data.BulletinData``: everything one issue shows (no database types)
- ``reports.exports.export(df, path, fmt, variable_labels, value_labels)``: CSV, XLSX, SAV, DTA
- ``reports.aggregates.aggregate_table(data, lang)``: the published township table as data
- ``reports.sample.sample_bulletin_data()``: a synthetic 21-township issue for tests and benches
"""
