"""The report page's images (render/html.py): labelled thumbnails, the image cards the fixes and
findings link to, lists of file names, and long lists folded into a <details> with their count.

Every name and caption goes through ``esc``; card anchors are numbers (``img-3``), never names."""

from __future__ import annotations

import html
import os

from ..safeio import shown
from ..views.report import ImageLabel, Look, ReportData
from .escape import display

CAPTION_CHARS = 60  # of a caption under a thumbnail
CARD_CAPTION_CHARS = 160  # on an image card
OPEN_CARDS = 12  # image cards shown before the rest are folded
NAMES = 3  # file names shown in a fix or finding before the rest are folded
LISTED = 1000  # file names listed in all, folded


def esc(text: object) -> str:
    """Text for the page: control characters and bytes that are not UTF-8 shown as escapes."""
    return html.escape(display(text), quote=True)


def short(path: str) -> str:
    return shown(path)


def n_of(n: int, what: str, plural: str | None = None) -> str:
    return f"{n} {what if n == 1 else plural or what + 's'}"


def folded(summary: str, body: str, n: int, open_at: int = 8, cls: str = "fold") -> str:
    """``body`` under a <summary> that gives the count; open when the list is short (``n`` at most
    ``open_at``)."""
    return f"<details class={cls}{' open' if n <= open_at else ''}><summary>{summary}</summary>{body}</details>"


class Cards:
    """The image cards: each image a finding names (views.report.card_paths) by its anchor; and the
    findings the page lists (``listed``: their indices; None: every one), which a code links to."""

    def __init__(self, paths: list[str], listed: set[int] | None = None):
        self.paths = paths
        self.anchor = {p: f"img-{k}" for k, p in enumerate(paths)}
        self.listed = listed

    def href(self, k: int) -> str:
        """Where a link to finding ``k`` goes: the finding, or the findings section that says how many
        more there are when the page does not list it."""
        return f"#f-{k}" if self.listed is None or k in self.listed else "#findings"

    def link(self, path: str, text: str | None = None) -> str:
        """The file's name, linked to its card where it has one."""
        label = esc(text if text is not None else short(path))
        a = self.anchor.get(path)
        return f"<a href='#{a}' class=file>{label}</a>" if a else f"<span class=file>{label}</span>"


def img(data: ReportData, path: str, viewed: bool = False, title: str | None = None) -> str:
    uri = data.thumbs.get((path, viewed))
    label = esc(title or short(path))
    if uri is None:
        return f'<span class=nopreview title="{label}">no preview</span>'
    return f'<img src="{uri}" alt="{label}" title="{label}" loading="lazy">'


def _size(xy) -> str:
    return "×".join(str(v) for v in xy)


def caption_text(label: ImageLabel, limit: int) -> str:
    """The caption sd-scripts registers, cut to ``limit`` characters for the page (escaped)."""
    if label.caption is None:
        return "<i>caption file cannot be read</i>" if label.caption_from is not None else ""
    text = label.caption
    cut = text if len(text) <= limit else text[:limit - 1].rstrip() + "…"
    if label.caption_from == "class_tokens":
        return f"<i>no caption file; class tokens:</i> {esc(cut)}"
    return esc(cut) if text else "<i>empty caption</i>"


def hover(label: ImageLabel, path: str) -> str:
    """A thumbnail's hover text: the file and the whole caption sd-scripts registers for it, with
    its tokens."""
    if label.caption is None:
        what = f"caption file cannot be read ({label.caption_error})" if label.caption_from is not None else ""
    else:
        what = label.caption if label.caption else "(empty caption)"
        if label.tokens is not None:
            what += f"  [{label.tokens} tokens]"
    return f"{short(path)} — {what}" if what else short(path)


def _figures(label: ImageLabel) -> str:
    """Size, bucket and samples per epoch, as one short line."""
    parts = []
    if label.size is not None:
        parts.append(_size(label.size) + (f" → {_size(label.bucket)}" if label.bucket is not None else ""))
    if label.repeats == 0:
        parts.append("never used")
    elif label.repeats is not None:
        parts.append(f"<span class={label.role}>{label.role} ×{label.repeats}</span>")
    return " · ".join(parts)


def problems(data: ReportData, label: ImageLabel, cards: Cards) -> str:
    """The codes of the findings about the image, each linked to its finding."""
    seen = dict(label.problems)  # (a code once: its first finding)
    sev = {f.code: f.severity.value for f in (data.findings[k] for k in seen.values())}
    return " ".join(f"<a href='{cards.href(k)}' class='sev {sev[c]}'>{c}</a>" for c, k in seen.items())


def figure(data: ReportData, labels: dict[str, ImageLabel], cards: Cards, path: str) -> str:
    """A thumbnail with its label: name, size → bucket, samples per epoch, caption, problems."""
    label = labels.get(path)
    name = cards.link(path, os.path.basename(path))
    if label is None:
        return f"<figure class=thumb>{img(data, path)}<figcaption>{name}</figcaption></figure>"
    lines = [name, _figures(label), caption_text(label, CAPTION_CHARS), problems(data, label, cards)]
    return (f"<figure class=thumb>{img(data, path, title=hover(label, path))}<figcaption>"
            + "".join(f"<span>{x}</span>" for x in lines if x) + "</figcaption></figure>")


_TRAINED = {Look.EXIF: "as stored (trained)", Look.ALPHA: "as trained: the colour under the transparency",
            Look.CMYK: "as trained: Pillow's CMYK → RGB"}
_VIEWED = {Look.EXIF: "as the camera meant it", Look.ALPHA: "as it looks (transparency kept)",
           Look.CMYK: "as your browser shows the file"}


def previews(data: ReportData, label: ImageLabel | None, path: str) -> str:
    """The pixels sd-scripts trains on and, where a viewer shows the file otherwise, the file as it
    looks, side by side."""
    looks = label.looks if label is not None else ()
    trained = img(data, path)
    if (path, False) not in data.thumbs:
        return f"<figure>{trained}<figcaption>cannot be decoded</figcaption></figure>"
    if label is None or label.size is None:
        return f"<figure>{trained}<figcaption>never read by sd-scripts</figcaption></figure>"
    if not looks:
        said = "as it would train (never used)" if label.repeats == 0 else "as trained"
        return f"<figure>{trained}<figcaption>{said}</figcaption></figure>"
    said = "; ".join(_TRAINED[k] for k in looks)
    out = f"<figure>{trained}<figcaption>{esc(said)}</figcaption></figure>"
    if (path, True) in data.thumbs:
        out += (f"<figure class=viewed>{img(data, path, True)}<figcaption>"
                f"{esc('; '.join(_VIEWED[k] for k in looks))}</figcaption></figure>")
    return out


def about(paths, cards: Cards) -> str:
    """What a fix or finding is about: "about a.png, b.png" or "about 190 images: a.png, b.png,
    c.png ▸ and 187 more"."""
    paths = list(dict.fromkeys(paths))
    many = f"{n_of(len(paths), 'image')}: " if len(paths) > NAMES else ""
    return f"<div class=files>about {many}{names(paths, cards)}</div>"


def names(paths, cards: Cards, n: int = NAMES) -> str:
    """File names, linked to their cards: the first ``n``, the rest folded under their count."""
    paths = list(dict.fromkeys(paths))
    head = ", ".join(cards.link(p) for p in paths[:n])
    rest = paths[n:]
    if not rest:
        return head
    listed = "".join(f"<li>{cards.link(p)}</li>" for p in rest[:LISTED])
    more = f"<li class=more>and {len(rest) - LISTED} more</li>" if len(rest) > LISTED else ""
    return head + " " + folded(f"and {len(rest)} more", f"<ol class=names>{listed}{more}</ol>", len(rest), 0,
                               "fold inline")
