"""Reading a results JSON given to `gradcam-audit report` / `compare` or `--gradcam-baseline`: any file a user names.

The file may be hand-edited, truncated by a full disk, saved as UTF-16 by an editor, or not JSON at all; each
case becomes one message with the JSON field path (``cases[3].result.regions[0].mass``), never a traceback. The
fields are checked by the records' one codec (core/records/codec.py), the same reader every results file passes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gradcam_audit.core.ledger.run_results import RunResults


def read_results_file(path: Path) -> RunResults:
    """The run in a results JSON, every field checked.

    Raises:
        ResultsError: unreadable, not UTF-8, not JSON, or a field of the wrong type; the message names the file
            and each field path with what was expected.
    """
    from gradcam_audit.core.ledger.results_file import read_results

    return read_results(path)
