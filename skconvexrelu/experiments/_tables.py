"""Fixed-width text and reStructuredText tables of result rows."""

import numpy as np


def _cell(value, digits):
    if value is None:
        return "n/a"
    if isinstance(value, bool | str):
        return str(value)
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return f"{value:.{digits}g}"
    return str(value)


def _line(cells, widths):
    return "  ".join(c.ljust(wd) for c, wd in zip(cells, widths, strict=True)).rstrip()


def format_table(rows, columns, headers=None, style="text", digits=4):
    """Render rows of dicts as a fixed-width text or reStructuredText table.

    Parameters
    ----------
    rows : list of dict
    columns : sequence of str
        Keys to show, in order. Missing keys and None show as ``n/a``.
    headers : sequence of str or None, default=None
        Column titles (default: the keys).
    style : {"text", "rst"}, default="text"
        ``"rst"`` writes a reStructuredText simple table.
    digits : int, default=4
        Significant digits of floats.

    Returns
    -------
    table : str

    Examples
    --------
    >>> print(format_table([{"a": 1, "b": 0.5}], ["a", "b"]))
    a  b
    -  ---
    1  0.5
    """
    if style not in ("text", "rst"):
        raise ValueError(f"style must be 'text' or 'rst', got {style!r}.")
    headers = list(columns if headers is None else headers)
    body = [[_cell(r.get(c), digits) for c in columns] for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(headers)]
    lines = [_line(b, widths) for b in body]
    if style == "text":
        rule = "  ".join("-" * wd for wd in widths)
        return "\n".join([_line(headers, widths), rule, *lines])
    rule = "  ".join("=" * wd for wd in widths)
    return "\n".join([rule, _line(headers, widths), rule, *lines, rule])
