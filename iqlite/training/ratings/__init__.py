"""Crowd ratings to clean scores: hidden tests, rater profiles, established screening models, pairwise choices.

Raw crowd votes (long format: image, rater, vote) go in; a clean scores table (image, score on 0–5, n_votes,
score_std) that `python -m training train` reads comes out, with a report of which raters were removed or
corrected and why. Modules:

- `votes`: reading long-format votes (binary or Likert, optional gold and repeat columns) into a vote matrix,
  every bad row reported by number;
- `hidden_tests`: raters who fail gold items or contradict themselves on repeated items;
- `rater_profiles`: each rater's offset from, and disagreement with, the other raters; random, binary,
  biased and quality raters placed on that map;
- `joint_model`: each rater's bias, noise and kind (honest, random, binary) fitted jointly with the scores,
  shrunk toward the crowd, so raters who voted on few photos are judged by the crowd's evidence as well;
- `cleaning`: drop random and binary voters, correct biased ones, recompute scores and their confidence
  (with the joint model by default on graded scales, with the rater profiles on good/bad votes);
- `standard_methods`: ITU-R BT.500 observer screening, ITU-T P.913 bias removal, and the maximum-likelihood
  subject model of Li and Bampis, for comparison;
- `pairwise`: Bradley–Terry scores from pairwise choices, fused with the MOS;
- `report`: the rater map, counts, disputed images, before/after variance.
"""
