"""``regaudit fix``: an unchanged file copied as a copy-on-write clone (reflink) where the
filesystem offers one, else copied.

On Linux the ``FICLONE`` ioctl (btrfs, XFS with reflink, bcachefs, OCFS2; not ext4 or tmpfs) makes
the copy share the source's blocks until either is written: no data is read or written and no
space is used, and the original cannot change through the copy (unlike a hard link). Python's own
``shutil.copy2`` (3.10-3.13) copies with ``sendfile``, which never clones. Elsewhere (macOS'
``clonefile`` and Windows' block cloning are not in the standard library), or where the ioctl is
refused, the file is copied with ``shutil.copy2``: after ``EXDEV`` (the source on another
filesystem) the files of that source device are copied without asking again, after any other
refusal (no reflink on the target) every file is.
"""

from __future__ import annotations

import errno
import os
import shutil
import sys

FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
# the ioctl's answers that mean "no clone here" (not a failure of the copy)
_NO_CLONE = frozenset({errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EBADF,
                       errno.EPERM, errno.ETXTBSY})


class Copier:
    """Copies unchanged files into the copy; counts how many were cloned and how many copied."""

    def __init__(self, clone: bool | None = None) -> None:
        self.clone = sys.platform.startswith("linux") if clone is None else clone
        self.refused: set[int] = set()  # source devices whose files the target would not clone
        self.cloned = 0
        self.copied = 0

    def copy(self, src: str, dst: str) -> None:
        """``src`` to the new file ``dst``, with its mode and times (as ``shutil.copy2``)."""
        if self.clone and (not self.refused or os.stat(src).st_dev not in self.refused):
            if self._clone(src, dst):
                shutil.copystat(src, dst)
                self.cloned += 1
                return
        shutil.copy2(src, dst)
        self.copied += 1

    def _clone(self, src: str, dst: str) -> bool:
        import fcntl

        with open(src, "rb") as fin, open(dst, "xb") as fout:
            try:
                fcntl.ioctl(fout.fileno(), FICLONE, fin.fileno())
                return True
            except OSError as exc:
                if exc.errno not in _NO_CLONE:
                    raise
                if exc.errno == errno.EXDEV:
                    self.refused.add(os.fstat(fin.fileno()).st_dev)
                else:
                    self.clone = False
        os.unlink(dst)  # (the empty file the clone was to fill; copy2 writes it again)
        return False
