"""Models iqlite is compared with: gradient-boosted trees on features (gbdt) and NIMA (nima)."""
