"""The crash-isolation notice: the controller's list of isolated spec files, read by running xdist workers."""

from __future__ import annotations

from gradcam_audit.plugin.crash_isolation import IsolationNotice


def test_a_worker_sees_each_new_list_once_and_never_half_of_one() -> None:
    notice = IsolationNotice.create()
    try:
        reader = IsolationNotice(notice.path)
        assert reader.changed_specs() == []  # the empty list the controller starts with
        assert reader.changed_specs() is None  # unchanged since
        notice.publish({"specs/b.yaml", "specs/a.yaml"})
        assert reader.changed_specs() == ["specs/a.yaml", "specs/b.yaml"]
        assert reader.changed_specs() is None
        assert not list(notice.path.parent.glob("*.tmp"))  # written aside, then renamed over the list
    finally:
        notice.remove()
    assert not notice.path.parent.exists()
    assert IsolationNotice(notice.path).changed_specs() is None  # gone: nothing to isolate, no error
