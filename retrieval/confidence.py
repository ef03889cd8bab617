"""When the nearest gloss of a query is too far to be trusted: "uncertain", or "no sign I know".

A search always returns some nearest gloss, even for a sign the index does not hold. The calibration that
tells them apart is the practice score's (:mod:`retrieval.practice`), already in every index as
``score_quantiles``: for every index clip, the distance to its nearest clip of a *different* gloss by
*another* signer. That is the distance at which a sign the index does not hold, signed by someone else,
finds its nearest gloss: had the clip's own gloss been left out of the index, its nearest gloss would lie
exactly that far. So a query whose nearest gloss lies as far as those distances looks like an unknown sign.

With ``d`` the distance from the query to its nearest gloss (its nearest index clip):

  "match"      d < score_quantiles[UNCERTAIN_LEVEL]: closer than all but the closest 10% of those
               different-sign distances (the nearest gloss would score above 90 as a practice attempt);
  "uncertain"  up to the median of them (it would score 50-90);
  "unknown"    d >= score_quantiles[UNKNOWN_LEVEL]: at least as far as half the index's clips lie from a
               different sign ("no sign I know"; a practice score of 50 or less).

What the levels are worth is measured by ``results/unknown_calibration.py`` (README, "Search and
practice"): past the 10% level the nearest gloss is right about a third of the time, and half the queries
there are signs the index does not hold. The browser page (web/app.js) mirrors these levels.
"""
import numpy as np

# Levels (percent) of score_quantiles, which holds the 0%, 1%, ..., 100% quantiles: index = level.
UNCERTAIN_LEVEL = 10
UNKNOWN_LEVEL = 50
VERDICTS = ("match", "uncertain", "unknown")
VERDICT_TEXT = {"match": "match", "uncertain": "uncertain", "unknown": "no sign I know"}


def verdict_thresholds(quantiles):
    """``(uncertain_from, unknown_from)``: the distances at which a nearest gloss becomes each verdict."""
    quantiles = np.asarray(quantiles)
    return float(quantiles[UNCERTAIN_LEVEL]), float(quantiles[UNKNOWN_LEVEL])


def match_verdict(distance, quantiles):
    """"match", "uncertain" or "unknown" for a query whose nearest gloss lies ``distance`` away (see the
    module's doc); an infinite or NaN distance (no gloss found at all) is "unknown"."""
    uncertain_from, unknown_from = verdict_thresholds(quantiles)
    if not distance < unknown_from:
        return "unknown"
    return "uncertain" if distance >= uncertain_from else "match"
