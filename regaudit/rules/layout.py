"""Layout checks (RA001-RA007, RA013): what the findings say about the folders and files
sd-scripts does not read. Facts in (``sdscripts.layout``'s RootScan and FolderListing), findings
out."""

from __future__ import annotations

import os
from pathlib import Path

from ..model import Finding, IgnoreReason, Severity
from ..sdscripts.layout import FolderListing, RootScan
from .naming import named, rows
from .registry import rule


def root_findings(rs: RootScan) -> list[Finding]:
    """The findings on one train/reg root that was listed (not on a missing one; one sd-scripts stops
    on is its crash, RA013)."""
    role = rs.role
    out = []
    for folder in rs.skipped:
        if folder.reason is IgnoreReason.HIDDEN and folder.images:
            out.append(rule("RA005").finding(
                folder.path, f"hidden folder '{folder.name}' with {folder.images} images is ignored"))
        elif folder.reason is IgnoreReason.UNPARSED_NAME and folder.images:
            out.append(rule("RA001").finding(
                folder.path,
                f"folder '{folder.name}' holds {folder.images} images but its name does not start with "
                f"'<repeats>_', so sd-scripts ignores it",
                f"Rename it to '{folder.suggestion}' (repeats first, then '_', then the class tokens)."))
        elif folder.reason is IgnoreReason.REPEATS_BELOW_ONE:
            out.append(rule("RA002").finding(
                folder.path, f"folder '{folder.name}' has repeats {folder.repeats}; sd-scripts skips it without a word"))
    if rs.root_images:
        # with no subset beside them the images were plainly meant to be trained on: an error;
        # stray files beside real subsets: a warning
        severity = Severity.WARNING if rs.subsets else Severity.ERROR
        out.append(rule("RA003").finding(
            os.path.abspath(rs.root),
            f"{rs.root_images} image file(s) lie directly in the {role} root and are never read "
            f"(only its '<repeats>_<class tokens>' subfolders are subsets)",
            f"Did you pass the concept folder instead of its parent? Pass its parent, or move the "
            f"images into a subfolder such as '{Path(rs.root) / '10_<class tokens>'}'.").with_severity(severity))
    return out


def listing_findings(listing: FolderListing) -> list[Finding]:
    """The findings on one subset folder's listing: what its image glob leaves out."""
    if listing.error is not None:
        return [rule("RA013").finding(
            listing.path, f"subset folder cannot be listed ({listing.error}); sd-scripts sees no image in it")]
    out = []
    for entry in listing.unread:
        if entry.reason is IgnoreReason.NESTED_DIR and entry.images:
            out.append(rule("RA004").finding(
                entry.path, f"{entry.images} images in nested folder '{entry.name}' are never read "
                            f"(subsets are not recursive)"))
        elif entry.reason is IgnoreReason.EXTENSION_CASE:
            ext = entry.ext
            out.append(rule("RA006").finding(
                entry.path, f"'{entry.name}' is never used: sd-scripts matches '{ext.lower()}' and '{ext.upper()}' "
                            f"but not '{ext}' on Linux and macOS",
                f"Rename it to '{os.path.splitext(entry.name)[0]}{ext.lower()}'."))
    if listing.unsupported:
        kinds = sorted({os.path.splitext(n)[1].lower() for n in listing.unsupported})
        out.append(rule("RA007").finding(
            listing.path, f"{len(listing.unsupported)} files with extensions {', '.join(kinds)} are ignored "
                          f"({named(sorted(listing.unsupported))})",
            images=rows(os.path.join(listing.path, n) for n in sorted(listing.unsupported))))
    if listing.hidden_images:
        out.append(rule("RA005").finding(
            listing.path, f"{len(listing.hidden_images)} hidden image files or folders are ignored "
                          f"({named(sorted(listing.hidden_images))})", images=rows(sorted(listing.hidden_images))))
    return out
