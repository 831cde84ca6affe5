"""Ideogram 4 (ideogram4_*)."""

ARCHS = [("i4", "ideogram4", 16, False, 8, 1)]
SCRIPTS = {"ideogram4": lambda o: "i4"}
