"""Asynchronous federated learning across lab sites (FedBuff, FedAsync; FedAvg as the baseline).

``strategies`` holds the merge arithmetic (numpy only); ``server_loop`` the coordinator's loop over
Flower's Grid API; ``site`` what a site trains and sends; ``apps`` the Flower ServerApp and ClientApp
(the only modules here that import ``flwr``, and only when they are used). See docs/federated.md.
"""
