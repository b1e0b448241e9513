"""pushadmin's models as a plain library.

Arrays and frozen dataclasses in, arrays and dataclasses out. Nothing here imports Django,
``apps`` or ``pushadmin``: the services translate between ORM rows and these types.

Modules (the API the Django side calls is documented at the top of ``docs/recsys.md``):

- ``text``: Korean (kiwipiepy) and English tokenization, keyphrases for push titles
- ``embedding``: gensim FastText content vectors, recency-weighted subscriber profiles
- ``mf``: implicit ALS, fold-in of new contents and subscribers, text -> factor projection
- ``lookalike``: seed-centroid similarity in factor space
- ``audience``: vectorized top-k audience selection (single and batch), click-model re-rank
- ``click``: calibrated LightGBM click model
- ``selection``: push-worthiness model and its interim rule-based fallback
- ``metrics``: AUC, calibration, ranking metrics, intervals
- ``artifacts``: versioned model directories (``meta.json`` beside the native files)
- ``replay``: ``python -m recsys.replay``, the backtest on logged interactions
- ``temporal``: its default protocol, in time order: nothing after a decision reaches a strategy
- ``synthetic``: the shared synthetic data set with known structure
"""
