"""HunyuanVideo (hv_train_network.py, cache_latents.py) and HunyuanVideo 1.5 (hv_1_5_*)."""

# (short, full, bucket step, video datasets, latent factor, control images per image)
ARCHS = [("hv", "hunyuan_video", 16, True, 8, 1),
         ("hv15", "hunyuan_video_1_5", 16, True, 16, 1)]
SCRIPTS = {"hv": lambda o: "hv", "hv_1_5": lambda o: "hv15"}
