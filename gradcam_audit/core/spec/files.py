"""Reading a spec or `_defaults.yaml` file into a located YAML mapping, and merging a directory's defaults into a spec."""

from __future__ import annotations

from pathlib import Path

import yaml

from gradcam_audit.core.spec.checks import ProblemCollector, check_keys, describe_value
from gradcam_audit.core.spec.fields import DIRECTORY_DEFAULTS_FIELDS, names
from gradcam_audit.core.spec.limits import LIMIT_SETTING_FIX, read_bounded_text, spec_bytes_fix
from gradcam_audit.core.spec.paths import DEFAULTS_FILE_NAME
from gradcam_audit.core.spec.yaml_lines import LocatedDict, YamlLimitError, load_located_yaml
from gradcam_audit.errors import InputTooLargeError, LimitSettingError, Problem


def _tab_column(text: str, line_index: int) -> int | None:
    """The 1-based column of a tab in a line's indentation, or None: YAML indents with spaces only."""
    lines = text.splitlines()
    if not 0 <= line_index < len(lines):
        return None
    line = lines[line_index]
    indentation = line[: len(line) - len(line.lstrip(" \t"))]
    return indentation.index("\t") + 1 if "\t" in indentation else None


def load_yaml_mapping(path: Path, collector: ProblemCollector) -> LocatedDict | None:
    """The file's top-level mapping; None (with a problem recorded) for anything a user's file can get wrong."""
    try:
        text = read_bounded_text(path, "spec file" if path.name != DEFAULTS_FILE_NAME else "defaults file")
    except UnicodeDecodeError as error:
        collector.add_file_problem(f"not UTF-8 text ({error.reason} at byte {error.start})", "save the file as UTF-8")
        return None
    except InputTooLargeError as error:
        collector.add_file_problem(str(error), spec_bytes_fix())
        return None
    except LimitSettingError as error:
        collector.add_file_problem(str(error), LIMIT_SETTING_FIX)
        return None
    except OSError as error:
        collector.add_file_problem(f"cannot read the file ({error.strerror or error})",
                                   "give a regular YAML file that exists and is readable")
        return None
    try:
        data = load_located_yaml(text, collector.file)
    except YamlLimitError as error:
        collector.problems.append(Problem(collector.file, error.field, error.message, line=error.position.line,
                                          column=error.position.column, fix=error.fix))
        return None
    except LimitSettingError as error:
        collector.add_file_problem(str(error), LIMIT_SETTING_FIX)
        return None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        tab = _tab_column(text, mark.line) if mark else None
        if mark is not None and tab is not None:
            collector.add_file_problem("a tab character is used for indentation; YAML allows only spaces there",
                                       "replace the tab with spaces (two per level), and set your editor to insert spaces",
                                       line=mark.line + 1, column=tab)
            return None
        collector.add_file_problem(
            f"YAML syntax error: {error.problem or error.context}",
            "check indentation and quoting on this line (a ':' or '#' inside a value needs quotes)",
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        )
        return None
    except yaml.YAMLError as error:
        collector.add_file_problem(f"YAML error: {str(error).splitlines()[0] if str(error) else type(error).__name__}",
                                   "remove control characters and check the YAML syntax")
        return None
    except RecursionError:
        collector.add_file_problem("the YAML is nested too deeply to read", "flatten the structure")
        return None
    except MemoryError:
        collector.add_file_problem("the YAML needs more memory than is available to read", "make the file smaller")
        return None
    if data is None:
        collector.add_file_problem("the file is empty", "add at least `model:` and `cases:`")
        return None
    if not isinstance(data, LocatedDict):
        collector.add_file_problem(f"expected a mapping at the top (model:, cases:, ...), got {describe_value(data)}",
                                   "start the file with `model: path/to/model.keras`", line=1)
        return None
    return data


def read_directory_defaults(spec_path: Path, collector: ProblemCollector) -> LocatedDict | None:
    """The spec's directory `_defaults.yaml` (its problems are reported in that file), or None."""
    defaults_path = spec_path.parent / DEFAULTS_FILE_NAME
    if not defaults_path.is_file() or defaults_path == spec_path:
        return None
    defaults_collector = ProblemCollector(defaults_path)
    data = load_yaml_mapping(defaults_path, defaults_collector)
    collector.problems.extend(defaults_collector.problems)
    if data is not None:
        check_keys(data, names(DIRECTORY_DEFAULTS_FIELDS), "", collector)
    return data


def merge_directory_defaults(directory_defaults: LocatedDict, data: LocatedDict) -> None:
    """Put a directory's top-level values under the spec's own, remembering their file and lines."""
    for key, value in directory_defaults.items():
        if key in data or key in ("defaults", "cases"):
            continue  # `defaults:` is merged key by key; `cases:` never comes from _defaults.yaml (reported there)
        data[key] = value
        data.key_positions[key] = directory_defaults.key_positions[key]
        data.value_positions[key] = directory_defaults.value_positions[key]
        data.key_sources[key] = directory_defaults.source_file or DEFAULTS_FILE_NAME

