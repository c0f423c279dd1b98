"""A sample frame imported as a background job: the web upload queues it, a worker runs it.

The upload is stored encrypted with the phone keys (it is a list of numbers) and deleted when the
import is done; the rejected rows, written as the command line writes them (the frame's columns
and a ``reason`` column, ready to fix and import again), are kept the same way for download.
The import, the audit row, the result and the rejected rows are one transaction, so a job run
again after its worker stopped starts from a clean slate.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dialer.frames import FrameError, read_frame, write_rejects
from dialer.sample import ImportReport, NumberRules, import_sample
from jobs import queue
from jobs.queue import Claimed
from jobs.runner import JobContext, Progress
from survey import audit
from survey.clock import Clock
from survey.db import session_scope
from survey.errors import Refused
from survey.models import Job, JobFile, Survey
from survey.phones import PhoneVault, redact

KIND = "sample_import"
UPLOAD, REJECTED = "upload", "rejected"
ERRORS_KEPT = 200  # row errors kept in the result for the page; every rejected row is in the file


class SampleJobError(Refused):
    pass


@dataclass(frozen=True)
class SampleOptions:
    skip_invalid: bool = False
    replicate_size: int | None = None
    allow_foreign: bool = False
    allow_service: bool = False


def queue_sample_import(session: Session, survey: Survey, filename: str, data: bytes, vault: PhoneVault,
                        clock: Clock, user_id: int | None, options: SampleOptions) -> Job:
    """Store the upload and queue its import, audited as who uploaded what, in the caller's transaction."""
    name = Path(filename).name or "frame.csv"
    job = queue.enqueue(session, clock.now(), kind=KIND, params={"file": name, **asdict(options)}, user_id=user_id,
                        survey_id=survey.id, files={UPLOAD: (name, vault.seal(data))})
    audit.record(session, clock, user_id=user_id, action="sample_upload_queued", entity="survey",
                 entity_id=survey.id, after={"file": name, "bytes": len(data), "job": job.id, **asdict(options)})
    return job


def run_sample_import(context: JobContext, job: Claimed, progress: Progress) -> None:
    with session_scope(context.sessions) as session:
        row = session.get(Job, job.id)
        upload = queue.input_file(session, job.id, UPLOAD)
        survey = session.get(Survey, row.survey_id) if row is not None and row.survey_id else None
        if row is None or upload is None or survey is None:
            raise SampleJobError("the uploaded file of job %(job)d is no longer stored", job=job.id)
        options = SampleOptions(**{k: v for k, v in row.params.items() if k != "file"})
        report, rejected = _import(session, survey, upload.name, context.vault.unseal(upload.data), options,
                                   context, progress)
        files = {REJECTED: (f"{Path(upload.name).stem}.rejected.csv", context.vault.seal(rejected))} if rejected else {}
        session.execute(delete(JobFile).where(JobFile.job_id == job.id, JobFile.role == UPLOAD))
        if report.imported:
            audit.record(session, context.clock, user_id=row.user_id, action="sample_imported", entity="survey",
                         entity_id=survey.id, after={"file": upload.name, "rows": report.rows, "job": job.id,
                                                     "imported": report.imported, "rejected": report.rejected})
        queue.finish(session, job, context.clock.now(), summary(report, skip_invalid=options.skip_invalid), files)


def _import(session: Session, survey: Survey, name: str, data: bytes, options: SampleOptions, context: JobContext,
            progress: Progress) -> tuple[ImportReport, bytes]:
    """The import of the upload, and its rejected rows as CSV bytes (empty if none)."""
    with tempfile.TemporaryDirectory(prefix="minyi-job-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            frame = read_frame(path, on_rows=lambda n: progress("reading", n, 0))
            rules = NumberRules(allow_foreign=options.allow_foreign, allow_service=options.allow_service)
            report = import_sample(session, survey, frame, context.vault, context.clock.now(), numbers=rules,
                                   replicate_size=options.replicate_size, skip_invalid=options.skip_invalid,
                                   on_progress=progress)
        except FrameError as exc:  # a frame that cannot be read at all: say so without the folder
            values = {k: v.replace(folder + "/", "") if isinstance(v, str) else v for k, v in exc.values.items()}
            raise SampleJobError(exc.message.replace(folder + "/", ""), **values) from None
        if not report.rejected:
            return report, b""
        rejects = Path(folder) / "rejected.csv"
        write_rejects(rejects, frame, report.reasons())
        return report, rejects.read_bytes()


def summary(report: ImportReport, *, skip_invalid: bool) -> dict[str, Any]:
    """What the job's page shows: counts, rejected rows by reason, the first row errors (numbers masked)."""
    reasons = Counter({str(p): n for p, n in report.rejected_by_problem().items()})
    return {
        "encoding": report.encoding, "rows": report.rows, "imported": report.imported,
        "refused": bool(report.errors) and not skip_invalid,
        "duplicates_in_file": report.duplicates_in_file, "already_in_survey": report.already_in_survey,
        "do_not_call": report.do_not_call, "rejected": report.rejected,
        "reasons": dict(reasons.most_common()),
        "errors": [{"line": e.line, "column": e.column, "value": redact(e.value), "reason": e.reason,
                    "problem": str(e.problem)}
                   for e in report.errors[:ERRORS_KEPT]],
        "by_township": dict(sorted(report.by_township.items())), "released": dict(sorted(report.released.items())),
    }


def rejected_csv(session: Session, job_id: int, vault: PhoneVault) -> tuple[str, bytes] | None:
    """The rejected rows of a done import job, as (file name, CSV bytes)."""
    stored = queue.input_file(session, job_id, REJECTED)
    return None if stored is None else (stored.name, vault.unseal(stored.data))


def recent_jobs(session: Session, survey_id: int, limit: int = 5) -> list[Job]:
    """The survey's latest sample uploads, newest first."""
    return list(session.scalars(select(Job).where(Job.survey_id == survey_id, Job.kind == KIND)
                                .order_by(Job.id.desc()).limit(limit)))


HANDLERS = {KIND: run_sample_import}
