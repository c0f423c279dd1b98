"""Domain (pure: no SQL, no Flask): weighting and estimation of the survey indices (design.md
"Flat-file analysis").

Entry points:

* :func:`analysis.pipeline.run_analysis` - everything from in-memory frames (responses, population
  cells or margins, an index :class:`analysis.spec.Spec`) to an :class:`analysis.results.AnalysisResult`
  and each respondent's weight;
* :mod:`analysis.weights`, :mod:`analysis.estimates`, :mod:`analysis.changes`, :mod:`analysis.ranks`,
  :mod:`analysis.sae`, :mod:`analysis.rates`, :mod:`analysis.integrity` - the parts, usable alone.

Numbers match R ``survey`` (see tests/analysis/r/reference.R for the calls).
"""
