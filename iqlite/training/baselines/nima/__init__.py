"""NIMA: a 10-bin rating distribution head with EMD loss, and its comparison run."""
