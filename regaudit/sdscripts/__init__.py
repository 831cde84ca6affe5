"""sd-scripts ported: facts only. Never imports rules/ or builds a Finding."""
