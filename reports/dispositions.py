"""AAPOR dispositions and outcome rates of a round stored in the database: what ``minyi survey
show``, the live console and the bulletin report, without the weighting and estimation of
:mod:`reports.results` (and its pandas and SciPy)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.rates import count_dispositions, rates_by_township
from analysis.results import OutcomeRates
from survey.models import Case, Stratum, Survey
from survey.vocabulary import CaseStatus


def dispositions_by_township(session: Session, survey: Survey) -> dict[str, dict[str, float]]:
    """Final AAPOR code counts per township. Replicates never released are not in the sample; cases
    still open count as not attempted (3.11) or by their last temporary code."""
    rows = session.execute(select(Stratum.code, Case.final_disposition, Case.last_temp_disposition, Case.attempts)
                           .join(Stratum, Stratum.id == Case.stratum_id)
                           .where(Case.survey_id == survey.id, Case.status != CaseStatus.HELD)).all()
    return count_dispositions((town, _code(final, temp, attempts)) for town, final, temp, attempts in rows)


def _code(final: str | None, temp: str | None, attempts: int) -> str:
    if final:
        return final
    return (temp or "3.90") if attempts else "3.11"


def survey_rates(session: Session, survey: Survey) -> list[OutcomeRates]:
    """AAPOR outcome rates per township and for the county."""
    return rates_by_township(dispositions_by_township(session, survey))
