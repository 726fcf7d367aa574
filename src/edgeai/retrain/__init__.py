"""Retraining on the data the sites landed, registered in MLflow only when it is better.

One run (`python -m edgeai.retrain`, the training stack's retrain CronJob; docs/retrain.md):

1. read the landed prediction records of the model (`landing`: a directory or s3://, JSON lines);
2. keep the labelled ones, hold back the newest `heldOut` fraction (`dataset`);
3. train the model's framework on the rest, low-confidence samples weighted as the model file's
   `retrain:` says (`frameworks`: dispatch on `framework`; scikit-learn today);
4. score the current registered version and the new one on the held-back slice (`metrics`);
5. register the new version with its metrics and the distribution of its predictions on the
   training data (for drift detection later) only when it beats the current one by `margin`
   (`registry`); otherwise say so and register nothing.

Where labels come from, honestly: a landed record carries `label` only when someone knew the truth.
For the shipped sensor-anomaly model nothing on a site produces ground truth today: the Siddhi app's
rule alerts (hard maximum, z-score) are rules, not truth, and there is no operator-feedback path
yet. The records the tests land carry the generator's ground truth (it knows which windows it made
anomalous). A production feed of labels (operator feedback joined to predictions by sensor and
time, landed as `<site>.predictions` records with `label`) is the missing piece; unlabelled records
are counted and skipped.
"""
