"""iqlite training stage: photos and ratings in, a trained Keras quality model (0–5 stars) out.

Data flows one way: rating tables (`rating_tables`) and photos (`images`) become an in-memory set
(`dataset`), the regressor (`model`) is trained in two phases (`train`, recipe in `config`), evaluated
(`metrics`, `evaluate`, `plots`), and written to a run folder (`pipeline`). `sample_data` and
`distortions` make the embedded default data set. This package never imports `export`.
"""

__version__ = "0.1.0"
