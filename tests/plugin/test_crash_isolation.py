"""The crash-isolation notice: the controller's isolated spec files and crashed items, read by running xdist workers."""

from __future__ import annotations

from gradcam_audit.plugin.crash_isolation import Isolation, IsolationNotice


def test_a_worker_sees_each_new_notice_once_and_never_half_of_one() -> None:
    notice = IsolationNotice.create()
    try:
        reader = IsolationNotice(notice.path)
        assert reader.changed() == Isolation()  # the empty notice the controller starts with
        assert reader.changed() is None  # unchanged since
        notice.publish({"specs/b.yaml", "specs/a.yaml"}, {})
        assert reader.changed() == Isolation(("specs/a.yaml", "specs/b.yaml"), {})
        assert reader.changed() is None
        notice.publish({"specs/a.yaml"}, {"specs/a.yaml::poisoned": "worker gw3: Not properly terminated, crash 2 of 2"})
        assert reader.changed() == Isolation(("specs/a.yaml",), {"specs/a.yaml::poisoned": "worker gw3: Not properly terminated, crash 2 of 2"})
        assert not list(notice.path.parent.glob("*.tmp"))  # written aside, then renamed over the notice
    finally:
        notice.remove()
    assert not notice.path.parent.exists()
    assert IsolationNotice(notice.path).changed() is None  # gone: nothing to isolate, no error
