"""FramePack (fpack_*.py): buckets split by fp_latent_window_size and the one-frame options."""

ARCHS = [("fp", "framepack", 16, True, 8, "fp1f")]
SCRIPTS = {"fpack": lambda o: "fp"}
