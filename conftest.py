"""Repository-level pytest configuration: the test suite drives real pytest runs through `pytester`."""

pytest_plugins = ["pytester"]
