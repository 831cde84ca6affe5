"""Z-Image (zimage_*)."""

ARCHS = [("zi", "z_image", 16, False, 8, 1)]
SCRIPTS = {"zimage": lambda o: "zi"}
