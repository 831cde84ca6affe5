"""HiDream-O1 (hidream_o1_*; its latent cache is hidream_o1_cache_pixel.py): bucket step 32, the
pixel-patch size; the cache holds 32x32 pixel patches."""

ARCHS = [("ho1", "hidream_o1_image", 32, False, 32, None)]
SCRIPTS = {"hidream_o1": lambda o: "ho1"}
