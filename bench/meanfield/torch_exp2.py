#!/usr/bin/python3
"""torch_exp2.py -- the peer of examples/meanfield_width.hnn: 004's
Experiment 2 training loop as 004 wrote it (PyTorch, float32, full-batch
SGD with lr = 0.01/sqrt(width), widths 10, 100, 1000, 1000 epochs), with
the weight snapshots and the loss history written to CSV instead of drawn.
Prints the seconds from the first network to the last file written
(imports and the data set-up excluded).  Usage: torch_exp2.py OUTDIR"""
import sys
import time

import numpy as np
import torch
import torch.nn as nn

out = sys.argv[1] if len(sys.argv) > 1 else "."
np.random.seed(42)
torch.manual_seed(42)
n_data = 50
X_train = np.linspace(-1, 1, n_data).reshape(-1, 1)
y_train = X_train**2 + 0.05 * np.random.randn(n_data, 1)
X_train = torch.FloatTensor(X_train)
y_train = torch.FloatTensor(y_train)


class TwoLayerNet(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc1 = nn.Linear(1, width)
        self.fc2 = nn.Linear(width, 1)
        nn.init.normal_(self.fc1.weight, mean=0, std=1.0)
        nn.init.normal_(self.fc1.bias, mean=0, std=1.0)
        nn.init.normal_(self.fc2.weight, mean=0, std=1.0 / np.sqrt(width))
        nn.init.zeros_(self.fc2.bias)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def train_and_track(width, num_epochs=1000, lr=0.01):
    model = TwoLayerNet(width)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    criterion = nn.MSELoss()
    weight_history, loss_history = [], []
    for epoch in range(num_epochs + 1):
        optimizer.zero_grad()
        loss = criterion(model(X_train), y_train)
        loss.backward()
        optimizer.step()
        if epoch in (0, 100, 300, 1000):
            weight_history.append((epoch, model.fc1.weight.data.cpu().numpy().flatten()))
        if epoch % 100 == 0:
            loss_history.append((epoch, loss.item()))
    return weight_history, loss_history


t0, c0 = time.perf_counter(), time.process_time()
for width in (10, 100, 1000):
    wh, lh = train_and_track(width, 1000, 0.01 / np.sqrt(width))
    np.savetxt(f"{out}/torch_w{width}.csv", np.concatenate([np.c_[np.full(len(w), e), w] for e, w in wh]),
               delimiter=",", header="epoch,w")
    np.savetxt(f"{out}/torch_loss{width}.csv", np.array(lh), delimiter=",", header="epoch,mse")
print(f"torch exp2 seconds={time.perf_counter() - t0:.4f} cpu={time.process_time() - c0:.4f} "
      f"threads={torch.get_num_threads()}")
