"""The tools around the pipeline: the command line (``cli``), the web app (``app``) and live webcam labelling
(``live``)."""
