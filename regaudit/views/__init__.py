"""Each command's result: the sd-scripts port and the rules composed."""
