"""Krea 2 (krea2_*): latent f8 x patch 2 = bucket step 16."""

ARCHS = [("kr2", "krea2", 16, False, 8, 1)]
SCRIPTS = {"krea2": lambda o: "kr2"}
