"""Kandinsky 5 (kandinsky5_*)."""

ARCHS = [("k5", "kandinsky5", 16, True, 8, 1)]
SCRIPTS = {"kandinsky5": lambda o: "k5"}
