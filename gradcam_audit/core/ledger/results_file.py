"""The ledger's file: `results.json` written as strict JSON through the one atomic writer, and read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

from gradcam_audit.core.files.run_folder import write_text_atomically
from gradcam_audit.core.ledger.run_results import RunResults, results_from_data
from gradcam_audit.core.records.codec import to_data
from gradcam_audit.core.records.results import dumps_strict, read_json_file


def write_results(results: RunResults, path: Path) -> None:
    """The ledger as strict, indented JSON, written case by case: a 10,000-case run never holds the whole document
    (its dict, a finite-only copy and one big string) in memory at once. Through the one atomic writer
    (core/files/run_folder.py): a reader never sees half a file, and a full disk is an OutputWriteError naming the folder."""
    document = to_data(results, emptied=("cases",))

    def write(handle: TextIO) -> None:
        handle.write("{")
        for position, (key, value) in enumerate(document.items()):
            handle.write(("," if position else "") + "\n  " + json.dumps(key) + ": ")
            if key != "cases":
                handle.write(_indented(dumps_strict(value), 2))
                continue
            handle.write("[")
            for number, case in enumerate(results.cases):
                handle.write(("," if number else "") + "\n    " + _indented(dumps_strict(to_data(case)), 4))
            handle.write("\n  ]" if results.cases else "]")
        handle.write("\n}")

    write_text_atomically(path, write)


def _indented(text: str, spaces: int) -> str:
    """JSON text nested ``spaces`` deep: every line after the first shifted right."""
    return text.replace("\n", "\n" + " " * spaces)


def read_results(path: Path) -> RunResults:
    return results_from_data(read_json_file(path), str(path))
