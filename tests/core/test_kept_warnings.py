"""keep_warnings: third-party warnings of the keeping thread are kept once each; gradcam_audit's own warnings, other
threads' warnings and the user's warning filters work as before."""

from __future__ import annotations

import importlib
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import gradcam_audit.core.run.batch as own_module
from gradcam_audit.core.records.codec import from_data, to_data
from gradcam_audit.core.run.kept_warnings import KeptWarning, WarningLog, keep_warnings, kept_summary

THIRD_PARTY = '''
import warnings


def noisy(text="the old API is going away"):
    warnings.warn(text, FutureWarning)
'''


@pytest.fixture
def third_party(tmp_path: Path) -> Iterator[ModuleType]:
    """A real module outside gradcam_audit that warns when called."""
    (tmp_path / "noisy_library.py").write_text(THIRD_PARTY, encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module("noisy_library")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("noisy_library", None)


def test_third_party_warnings_are_kept_once_and_not_shown(third_party: ModuleType) -> None:
    log = WarningLog()
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with keep_warnings(log):
            for _ in range(3):
                third_party.noisy()
            third_party.noisy("another message")
    assert shown == []
    assert log.kept() == (KeptWarning("FutureWarning", "the old API is going away", "noisy_library"),
                          KeptWarning("FutureWarning", "another message", "noisy_library"))
    assert log.kept()[0].note() == "warning from noisy_library (FutureWarning in noisy_library): the old API is going away"
    assert log.take_new() == log.kept() and log.take_new() == ()
    assert kept_summary(log.kept(), "the report's notes") == "2 warnings from noisy_library kept in the report's notes"
    assert from_data(KeptWarning, to_data(log.kept()[0]), "a report") == log.kept()[0]


def test_gradcam_audits_own_warnings_stay_visible(third_party: ModuleType) -> None:
    log = WarningLog()
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with keep_warnings(log):
            # Attributed to one of gradcam_audit's modules, as a warnings.warn in its code is.
            warnings.warn_explicit("a spec setting is ignored", UserWarning, own_module.__file__, 1, module=own_module.__name__)
    assert [str(warning.message) for warning in shown] == ["a spec setting is ignored"]
    assert log.kept() == ()


def test_other_threads_warnings_are_shown_while_one_thread_keeps(third_party: ModuleType) -> None:
    log = WarningLog()
    inside, done = threading.Event(), threading.Event()

    def keeping() -> None:
        with keep_warnings(log):
            inside.set()
            done.wait(timeout=30)

    worker = threading.Thread(target=keeping)
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        worker.start()
        assert inside.wait(timeout=30)
        third_party.noisy("from the main thread")
        done.set()
        worker.join(timeout=30)
    assert [str(warning.message) for warning in shown] == ["from the main thread"]
    assert log.kept() == ()


def test_the_users_filters_still_decide(third_party: ModuleType) -> None:
    log = WarningLog()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FutureWarning), keep_warnings(log):
            third_party.noisy()
        warnings.simplefilter("ignore")
        with keep_warnings(log):
            third_party.noisy()
    assert log.kept() == ()


def test_the_summary_names_each_package() -> None:
    kept = [KeptWarning("UserWarning", "a", "tensorflow.python.ops"), KeptWarning("UserWarning", "b", "tensorflow.core"),
            KeptWarning("DeprecationWarning", "c", "keras.src.models")]
    assert kept_summary(kept, "results.json's notes") == "2 warnings from tensorflow, 1 from keras kept in results.json's notes"
    assert kept_summary([], "anywhere") == ""
