"""The colours at the two ends of a heatmap colormap, in words, so the report's legend matches its pictures."""

from __future__ import annotations

# Plain names a reader knows, with a representative RGB (0-1) each.
_NAMED = {
    "dark red": (0.5, 0.0, 0.0), "red": (0.9, 0.1, 0.1), "orange": (1.0, 0.55, 0.0), "yellow": (1.0, 0.95, 0.2),
    "light yellow": (1.0, 1.0, 0.75), "green": (0.1, 0.7, 0.2), "cyan": (0.1, 0.8, 0.9), "blue": (0.1, 0.2, 0.9),
    "dark blue": (0.0, 0.0, 0.5), "purple": (0.45, 0.1, 0.55), "black": (0.0, 0.0, 0.0), "white": (1.0, 1.0, 1.0),
    "grey": (0.5, 0.5, 0.5),
}


def _nearest(rgb: tuple[float, float, float]) -> str:
    return min(_NAMED, key=lambda name: sum((a - b) ** 2 for a, b in zip(_NAMED[name], rgb)))


def colormap_ends(colormap: str) -> tuple[str, str]:
    """(colour of the most attention, colour of the least) for a matplotlib colormap; jet's when unknown."""
    try:
        from matplotlib import colormaps

        cmap = colormaps[colormap or "jet"]
    except (ImportError, KeyError):
        return "dark red", "dark blue"
    high = tuple(float(value) for value in cmap(1.0)[:3])
    low = tuple(float(value) for value in cmap(0.0)[:3])
    return _nearest(high), _nearest(low)  # type: ignore[arg-type]
