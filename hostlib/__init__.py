# Marks this folder as a package for pip only; dom0 deploys the files flat.
