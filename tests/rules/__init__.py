"""Every finding code, pinned through the command line: one table per code family (this folder
is a package so that its module names may repeat those of tests/)."""
