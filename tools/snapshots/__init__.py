"""Shipped synthetic API snapshots (package marker so installed copies carry the JSON files)."""
