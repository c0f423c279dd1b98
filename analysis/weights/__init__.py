"""Domain, part of :mod:`analysis`. Weighting: stratified design weights, post-stratification, raking, collapsing and trimming."""

from analysis.weights.calibrate import METHODS, Calibration, WeightingOptions, calibrate
from analysis.weights.collapse import CollapseRule, collapse_cells, collapse_margin, merge_adjacent
from analysis.weights.design import StratifiedDesign, design
from analysis.weights.grid import CellGrid, build_grid
from analysis.weights.poststratify import poststratify
from analysis.weights.rake import Margin, RakeDidNotConverge, rake
from analysis.weights.trim import TrimRule, trim_and_rake

__all__ = [
    "METHODS", "Calibration", "CellGrid", "CollapseRule", "Margin", "RakeDidNotConverge", "StratifiedDesign",
    "TrimRule", "WeightingOptions", "build_grid", "calibrate", "collapse_cells", "collapse_margin", "design",
    "merge_adjacent", "poststratify", "rake", "trim_and_rake",
]
