"""Journeys written but not yet passing; not collected (no test_ prefix). Move one back to
tests/browser/test_<name>.py once it passes."""
