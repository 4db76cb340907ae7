"""gradcam_audit: prove in CI that an image model looks where it should (Grad-CAM audits as pytest tests)."""
