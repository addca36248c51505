"""World maps as PNG: values at points (scatter), in polygons (choropleth) or on a regular grid (raster), over
country outlines.

One place for every map geoembed draws (concept maps, text-query maps, benchmark predictions and residuals), so they
all look alike. Uses matplotlib's non-interactive Agg backend and plain longitude/latitude axes (plate carrée).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from geoembed.atomic import atomic_write


def plot_world(
    latlon: np.ndarray,
    values: np.ndarray,
    out: str | os.PathLike | None = None,
    *,
    title: str = "",
    label: str = "",
    cmap: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    categories: Sequence[str] | None = None,
    grid_step: float | None = None,
    extent: tuple[float, float, float, float] | None = None,
    point_size: float = 6.0,
    dpi: int = 150,
    geometries=None,
):
    """Draw ``values`` at ``latlon`` (``(N, 2)`` ``[lat, lon]``) on a world map; save a PNG atomically if ``out``.

    Args:
        grid_step: when the points are the cell centres of :func:`geoembed.geo.global_grid` with this step, draw
            them as a raster (smooth maps of a score over the globe); otherwise draw a scatter.
        categories: for class labels: ``values`` are integer codes into ``categories`` (a legend replaces the bar).
        extent: ``(lon_min, lon_max, lat_min, lat_max)``; default the whole world, or the data's bounds plus a margin
            for a regional data set.
        geometries: polygons (a GeoSeries in EPSG:4326, one per value) to fill with the values instead of dots at
            ``latlon`` (a choropleth); ``latlon`` then only sets the default extent.
    Returns:
        the matplotlib Figure (closed after saving when ``out`` is given).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from geoembed.geo import countries

    latlon = np.asarray(latlon, dtype=np.float64)
    values = np.asarray(values)
    if latlon.ndim != 2 or latlon.shape[1] != 2 or len(values) != len(latlon):
        raise ValueError(f"latlon must be (N, 2) and values (N,), got {latlon.shape} and {values.shape}.")
    if extent is None:
        extent = _auto_extent(latlon)

    width = 10.0
    aspect = (extent[3] - extent[2]) / max(extent[1] - extent[0], 1e-9)
    fig, ax = plt.subplots(figsize=(width, max(3.0, min(width * aspect + 1.0, 9.0))))
    if geometries is not None and len(geometries) != len(values):
        raise ValueError(f"geometries must be one per value, got {len(geometries)} for {len(values)} values.")
    if categories is not None:
        cmap = cmap or "tab20"
        colors = matplotlib.colormaps[cmap].resampled(max(len(categories), 1))
        codes = values.astype(int)
        for code in np.unique(codes):
            sel = codes == code
            if geometries is not None:
                geometries[sel].plot(ax=ax, color=colors(code), edgecolor="0.5", linewidth=0.1, zorder=2)
                ax.scatter([], [], s=30, marker="s", color=colors(code), label=categories[code])
            else:
                ax.scatter(latlon[sel, 1], latlon[sel, 0], s=point_size, color=colors(code), label=categories[code],
                           linewidths=0, zorder=2)
        ax.legend(loc="lower left", fontsize=7, markerscale=2, ncol=2, framealpha=0.8)
    elif geometries is not None:
        from matplotlib.colors import Normalize

        cmap = matplotlib.colormaps[cmap or "viridis"]
        numeric = values.astype(np.float64)
        norm = Normalize(vmin=np.nanmin(numeric) if vmin is None else vmin,
                         vmax=np.nanmax(numeric) if vmax is None else vmax)
        geometries.plot(ax=ax, color=cmap(norm(numeric)), edgecolor="0.5", linewidth=0.1, zorder=2)
        mappable = matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap)
        fig.colorbar(mappable, ax=ax, shrink=0.7, label=label)
    elif grid_step is not None:
        image, img_extent = _to_raster(latlon, values.astype(np.float64), grid_step)
        mappable = ax.imshow(image, origin="lower", extent=img_extent, cmap=cmap or "viridis", vmin=vmin, vmax=vmax,
                             interpolation="nearest", zorder=1)
        fig.colorbar(mappable, ax=ax, shrink=0.7, label=label)
    else:
        mappable = ax.scatter(latlon[:, 1], latlon[:, 0], c=values.astype(np.float64), s=point_size,
                              cmap=cmap or "viridis", vmin=vmin, vmax=vmax, linewidths=0, zorder=2)
        fig.colorbar(mappable, ax=ax, shrink=0.7, label=label)
    countries().boundary.plot(ax=ax, color="0.25", linewidth=0.4, zorder=3)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_title(title)
    fig.tight_layout()
    if out is not None:
        save_figure(fig, out, dpi=dpi)
        plt.close(fig)
    return fig


def save_figure(fig, out: str | os.PathLike, *, dpi: int = 150) -> Path:
    """Save a matplotlib figure as PNG atomically (never a half-written image)."""
    out = Path(out)
    with atomic_write(out) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return out


def _auto_extent(latlon: np.ndarray) -> tuple[float, float, float, float]:
    lat_min, lon_min = latlon.min(axis=0)
    lat_max, lon_max = latlon.max(axis=0)
    if lon_max - lon_min > 120 or lat_max - lat_min > 60:
        return (-180.0, 180.0, -90.0, 90.0)
    margin = 0.05 * max(lon_max - lon_min, lat_max - lat_min, 1.0)
    return (
        max(lon_min - margin, -180.0), min(lon_max + margin, 180.0),
        max(lat_min - margin, -90.0), min(lat_max + margin, 90.0),
    )


def _to_raster(latlon: np.ndarray, values: np.ndarray, step: float):
    """Place grid-cell values into a 2-D array (NaN where no cell was given, e.g. the sea for a land-only grid)."""
    rows = np.floor((latlon[:, 0] + 90.0) / step).astype(int)
    cols = np.floor((latlon[:, 1] + 180.0) / step).astype(int)
    n_rows, n_cols = int(round(180.0 / step)), int(round(360.0 / step))
    image = np.full((n_rows, n_cols), np.nan)
    image[np.clip(rows, 0, n_rows - 1), np.clip(cols, 0, n_cols - 1)] = values
    return np.ma.masked_invalid(image), (-180.0, 180.0, -90.0, 90.0)
