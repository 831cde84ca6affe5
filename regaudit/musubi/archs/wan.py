"""Wan 2.1/2.2 (wan_*.py). Image datasets split buckets by fp_latent_window_size (and the one-frame
options), as FramePack does; control images per image = len(fp_1f_clean_indices) or 1."""

ARCHS = [("wan", "wan", 16, True, 8, "fp1f")]
SCRIPTS = {"wan": lambda o: "wan"}
