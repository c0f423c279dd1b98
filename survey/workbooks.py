"""What opening an .xlsx may cost, checked before openpyxl opens it.

An .xlsx is a zip archive: a few hundred KiB can declare gigabytes of XML (a zip bomb). Only the
archive's directory is read here; Python's zipfile never inflates a member past the size its
directory declares, so refusing large declared sizes bounds the work of reading the workbook.
A 200,000-row sample frame of four columns is a 4 MiB .xlsx of 53 MiB of XML, deflated 13 to 1;
ordinary spreadsheets stay well under 30 to 1, a bomb is near 1000 to 1.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from survey.errors import Refused

MAX_UNCOMPRESSED = 256 * 1024 * 1024  # bytes of XML, every member together
MAX_RATIO = 100  # uncompressed / compressed, for any member larger than RATIO_FLOOR
RATIO_FLOOR = 1024 * 1024


class WorkbookTooLarge(Refused):
    pass


def check_size(path: Path, limit: int = MAX_UNCOMPRESSED) -> None:
    """Refuse a workbook whose members declare more than ``limit`` bytes in all, or whose large
    members are deflated more than :data:`MAX_RATIO` to 1. Raises :class:`zipfile.BadZipFile` for
    a file that is not a zip archive at all."""
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
    total = sum(m.file_size for m in members)
    if total > limit:
        raise WorkbookTooLarge("%(file)s: the workbook expands to %(mib)d MiB, more than the %(limit)d MiB allowed",
                               file=str(path), mib=total // 2**20, limit=limit // 2**20)
    for m in members:
        if m.file_size > RATIO_FLOOR and m.file_size > MAX_RATIO * max(m.compress_size, 1):
            raise WorkbookTooLarge("%(file)s: %(member)s expands %(ratio)d times (at most %(limit)d for a "
                                   "spreadsheet): refused as a possible zip bomb", file=str(path), member=m.filename,
                                   ratio=m.file_size // max(m.compress_size, 1), limit=MAX_RATIO)
