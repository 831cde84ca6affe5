"""FLUX.1 Kontext (flux_kontext_*) and FLUX.2 (flux_2_*: --model_version dev | klein-4b | klein-base-4b |
klein-9b | klein-base-9b, default dev, flux2_utils.FLUX2_MODEL_INFO)."""

ARCHS = [("fk", "flux_kontext", 16, True, 8, 1),
         ("f2d", "flux_2_dev", 16, False, 16, None),
         ("f2k4b", "flux_2_klein_4b", 16, False, 16, None),
         ("f2k9b", "flux_2_klein_9b", 16, False, 16, None)]

_FLUX2 = {"dev": "f2d", "klein-4b": "f2k4b", "klein-base-4b": "f2k4b", "klein-9b": "f2k9b", "klein-base-9b": "f2k9b"}


def _flux2(options: dict) -> str:
    version = options.get("model_version") or "dev"
    if version not in _FLUX2:
        raise ValueError(f"--model_version {version!r}: flux_2 scripts take one of {', '.join(_FLUX2)}")
    return _FLUX2[version]


SCRIPTS = {"flux_kontext": lambda o: "fk", "flux_2": _flux2}
