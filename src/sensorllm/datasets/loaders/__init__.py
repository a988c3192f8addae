"""Raw-file readers, one module per dataset family; each exposes ``load(spec, raw_dir)``."""
