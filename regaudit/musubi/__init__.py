"""The port of kohya-ss/musubi-tuner's dataset code (commit 30c658c, v0.3.4), facts only: the
architectures (``archs``), the dataset config as ``config_utils`` reads it (``config``), the image
listing with every file it leaves out (``listing``), buckets (``buckets``), and what trains after
caching and from the caches on disk (``training``). Like ``sdscripts/`` it never imports rules/,
views/, render/ or cli/; each function names the musubi function it mirrors. Video datasets are not
simulated."""
