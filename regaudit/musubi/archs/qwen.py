"""Qwen-Image (qwen_image_*): qi, or qie for --model_version edit | edit-2509 | edit-2511 (--edit,
--edit_plus), qil for --model_version layered (qwen_image_utils.resolve_model_version_args)."""

ARCHS = [("qi", "qwen_image", 16, False, 8, 1),
         ("qie", "qwen_image_edit", 16, False, 8, None),
         ("qil", "qwen_image_layered", 16, False, 8, 1)]

_VERSIONS = {"original", "layered", "edit", "edit-2509", "edit-2511"}


def _qwen(options: dict) -> str:
    version = options.get("model_version")
    if version is not None:
        version = str(version).lower()
    elif options.get("edit_plus"):
        version = "edit-2509"
    elif options.get("edit"):
        version = "edit"
    else:
        version = "original"
    if version not in _VERSIONS:
        raise ValueError(f"Invalid model_version '{version}'")
    return "qil" if version == "layered" else "qie" if version.startswith("edit") else "qi"


SCRIPTS = {"qwen_image": _qwen}
