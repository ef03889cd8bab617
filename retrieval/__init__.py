"""Everything done with embeddings once a model exists: embedding clips, ranking and metrics, the index file,
nearest-neighbour search and practice scores.

Training (per-epoch validation), ``evaluate.py`` and ``search.py`` all call this package; it imports only
``datasets``, ``models`` and ``utils``, never ``training`` or an entry script.

- :mod:`retrieval.embedding`: a model's embedding of every clip of a dataset;
- :mod:`retrieval.metrics`: nearest-class ranking (the one implementation), silhouette, top-k, mAP;
- :mod:`retrieval.neighbours`: exact nearest-neighbour search, with torch or faiss behind one interface;
- :mod:`retrieval.index`: the index file (embeddings, glosses, clips, signers, the model's hash);
- :mod:`retrieval.practice`: the 0-100 practice score and its calibration on an index.
- :mod:`retrieval.confidence`: whether a query's nearest gloss is close enough to trust, on that calibration.
"""
