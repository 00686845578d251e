# Marks this folder as a package for pip only; the dumper is uploaded to dom0 as flat files.
