"""What a round lacks before it can be analysed, said to supervisors and officials alike: what is
missing and how to add it (the round's page, or the command line)."""

from __future__ import annotations

from flask_babel import gettext as _

from reports.results import INDICES, POPULATION, missing_inputs
from survey.models import Survey


def missing_messages(survey: Survey) -> list[str]:
    """One sentence per missing input of ``survey``, in the request's language; empty when it can be analysed."""
    words = {
        INDICES: _("Survey %(code)s has no index definitions yet, so no index can be computed. A supervisor "
                   "uploads them (a YAML file, docs/formats.md) under “Analysis inputs” on the round's page, "
                   "or runs: minyi survey set %(code)s --indices INDICES.yaml", code=survey.code),
        POPULATION: _("Survey %(code)s has no population counts yet, so its answers cannot be weighted. A "
                      "supervisor uploads them (a CSV file, docs/formats.md) under “Analysis inputs” on the "
                      "round's page, or runs: minyi survey set %(code)s --population POP.csv", code=survey.code),
    }
    return [words[m] for m in missing_inputs(survey)]
