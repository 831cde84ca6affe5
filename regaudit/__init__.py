"""regaudit: see a kohya-ss/sd-scripts DreamBooth/LoRA dataset exactly as sd-scripts will."""

__version__ = "0.1.0"
SCHEMA_VERSION = 1
