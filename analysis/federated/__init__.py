"""Asynchronous federated learning across lab sites (FedBuff, FedAsync; FedAvg as the baseline).

``strategies`` holds the merge arithmetic (numpy only); ``server_loop`` the coordinator's loop over
Flower's Grid API; ``site`` what a site trains and sends; ``apps`` the Flower ServerApp and ClientApp
(the only modules here that import ``flwr``, and only when they are used). See docs/federated.md.
"""

# FedBuff's default server learning rate eta. Chosen on the sites' own held-out subjects of the rig
# benchmark (bench/fl_async.py; K = 3, 3 seeds): within 2 UF1 points of pooled training on 3 of 3
# seeds with 0.5, on 2 of 3 with 1 (docs/federated.md, "Figures"). The final test subjects were not used.
FEDBUFF_SERVER_LR = 0.5
