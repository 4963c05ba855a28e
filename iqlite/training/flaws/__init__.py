"""Handcrafted photo features, the subject/background split and the flaw reasons built on them."""
