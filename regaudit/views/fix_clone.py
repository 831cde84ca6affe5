"""``regaudit fix``: an unchanged file copied as a copy-on-write clone (reflink) where the
filesystem offers one, else copied.

On Linux the ``FICLONE`` ioctl (btrfs, XFS with reflink, bcachefs, OCFS2; not ext4 or tmpfs) makes
the copy share the source's blocks until either is written: no data is read or written and no
space is used, and the original cannot change through the copy (unlike a hard link). Python's own
``shutil.copy2`` (3.10-3.13) copies with ``sendfile``, which never clones. Elsewhere (macOS'
``clonefile`` and Windows' block cloning are not in the standard library), or where the ioctl is
refused, the file is copied with ``shutil.copy2``: after ``EXDEV`` (the source on another
filesystem) the files of that source device are copied without asking again, after any other
refusal (no reflink on the target) every file is. A file with holes (a sparse file: fewer blocks
on disk than its size) is copied region by region where the system can find its data
(``SEEK_DATA``/``SEEK_HOLE``: Linux, macOS), its holes left holes: a 1 GiB sparse caption is not
written out as 1 GiB of zeros.
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
        if not _sparse_copy(src, dst):
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


_CHUNK = 1 << 20


def _sparse_copy(src: str, dst: str) -> bool:
    """Copy ``src``, a file with holes, to the new file ``dst`` with the same holes, and its mode and
    times; False (nothing left at ``dst``) where it has none or the system cannot find them."""
    if not hasattr(os, "SEEK_DATA"):
        return False
    with open(src, "rb") as fin:
        st = os.fstat(fin.fileno())
        if getattr(st, "st_blocks", None) is None or st.st_blocks * 512 >= st.st_size:
            return False  # (no holes: copy2 is as good)
        fi = fin.fileno()
        try:
            start = os.lseek(fi, 0, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # (ENXIO: no data at all; anything else: no hole finding here)
                return False
            start = st.st_size
        with open(dst, "xb") as fout:
            fo = fout.fileno()
            while start < st.st_size:
                end = os.lseek(fi, start, os.SEEK_HOLE)
                os.lseek(fi, start, os.SEEK_SET)
                os.lseek(fo, start, os.SEEK_SET)
                left = end - start
                while left > 0:
                    chunk = os.read(fi, min(left, _CHUNK))
                    if not chunk:
                        break  # (the file shrank while copied)
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fo, view):]
                    left -= len(chunk)
                try:
                    start = os.lseek(fi, end, os.SEEK_DATA)
                except OSError as exc:
                    if exc.errno != errno.ENXIO:
                        raise
                    break  # no data after this hole
            os.ftruncate(fo, st.st_size)
    shutil.copystat(src, dst)
    return True
