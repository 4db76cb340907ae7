"""The one way benchmarks here print their figures: an aligned table, then the same rows as one JSON line."""

from __future__ import annotations

import json


def print_rows(title: str, rows: dict[str, str]) -> None:
    width = max(len(key) for key in rows)
    print(title)
    for key, value in rows.items():
        print(f"  {key.ljust(width)}  {value}")
    print(json.dumps(rows))
