#!/usr/bin/python3
"""Train a GAN design in PyTorch on MNIST and write G's samples after every
epoch, so `tapegrad evaluate` can score PyTorch's training the same way it
scores tapegrad's (the classifier-feature distance, inception-style score,
label entropy).

    /usr/bin/python3 bench/torch_gan_quality.py --model dcgan --epochs 10 \
        --data data/mnist --out runs/torch-dcgan
    for f in runs/torch-dcgan/samples-epoch-*.idx; do
        build/tools/tapegrad evaluate "$f" --json; done

Designs (the same layers, init, losses and optimizers as tapegrad's presets):
  dcgan      G: dense 100->128x7x7 (no bias), BatchNorm, ReLU,
                ConvTranspose 128->64 4x4 s2 p1 (no bias), BatchNorm, ReLU,
                ConvTranspose 64->1 4x4 s2 p1, tanh;
             D: the Keras discriminator: Conv 1->64 5x5 s2 'same' (pad 1 before,
                2 after), LeakyReLU(0.2), Conv 64->128 5x5 s2, LeakyReLU(0.2),
                flatten, Linear 3200->256, LeakyReLU(0.2), Dropout(0.5),
                Linear 256->1 (a logit);
             DCGAN init: weights N(0, 0.02), biases 0, BN gamma N(1, 0.02), beta 0.
  reference  G 100-128-256-512-784 LeakyReLU(0.2) + tanh; D 784-512-256-128-1
             LeakyReLU(0.2) + Dropout(0.3); Xavier-uniform weights, zero biases.
Both: Adam 2e-4 (0.5, 0.999), BCE with logits, real label 0.9, fake 0, the
generator's flipped-label loss on the D step's G(z) through the updated D,
batch 64, pixels scaled to [-1, 1], a new shuffle every epoch, the last
partial batch dropped. Samples come from G in eval mode (BatchNorm's running
statistics), 10000 per epoch from fixed noise, written as IDX ubyte.
"""
import argparse
import os
import struct
import time

import numpy as np
import torch
from torch import nn


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def write_idx(path, images):
    images = np.ascontiguousarray(images, dtype=np.uint8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 8, images.ndim) + struct.pack(">" + "I" * images.ndim, *images.shape))
        f.write(images.tobytes())
    os.replace(tmp, path)


class SamePad(nn.Module):
    """Keras 'same' padding for a 5x5 stride-2 convolution on 28x28: 1 before, 2 after."""

    def forward(self, x):
        return nn.functional.pad(x, (1, 2, 1, 2))


def dcgan():
    lrelu = lambda: nn.LeakyReLU(0.2)
    G = nn.Sequential(nn.Linear(100, 128 * 7 * 7, bias=False), nn.BatchNorm1d(128 * 7 * 7), nn.ReLU(),
                      nn.Unflatten(1, (128, 7, 7)),
                      nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                      nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh(), nn.Flatten())
    D = nn.Sequential(nn.Unflatten(1, (1, 28, 28)), SamePad(), nn.Conv2d(1, 64, 5, 2), lrelu(),
                      nn.Conv2d(64, 128, 5, 2), lrelu(), nn.Flatten(), nn.Linear(3200, 256), lrelu(),
                      nn.Dropout(0.5), nn.Linear(256, 1))
    for m in list(G.modules()) + list(D.modules()):
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return G, D


def reference():
    lrelu = lambda: nn.LeakyReLU(0.2)
    G = nn.Sequential(nn.Linear(100, 128), lrelu(), nn.Linear(128, 256), lrelu(), nn.Linear(256, 512), lrelu(),
                      nn.Linear(512, 784), nn.Tanh())
    D = nn.Sequential(nn.Linear(784, 512), lrelu(), nn.Dropout(0.3), nn.Linear(512, 256), lrelu(), nn.Dropout(0.3),
                      nn.Linear(256, 128), lrelu(), nn.Dropout(0.3), nn.Linear(128, 1))
    for m in list(G.modules()) + list(D.modules()):
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return G, D


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=("dcgan", "reference"), default="dcgan")
    ap.add_argument("--data", default="data/mnist")
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--samples", type=int, default=10000)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    x_all = torch.from_numpy(read_idx(os.path.join(a.data, "train-images-idx3-ubyte")).reshape(-1, 784).astype(np.float32))
    x_all = x_all / 127.5 - 1.0
    G, D = dcgan() if a.model == "dcgan" else reference()
    optG = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optD = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    B = 64
    real_t, fake_t, ones_t = torch.full((B, 1), 0.9), torch.zeros(B, 1), torch.ones(B, 1)
    fixed = torch.randn(a.samples, 100, generator=torch.Generator().manual_seed(a.seed + 1))
    log = open(os.path.join(a.out, "epochs.csv"), "w")
    log.write("epoch,loss_d,loss_g,d_real,d_fake,seconds\n")
    for epoch in range(1, a.epochs + 1):
        t0 = time.time()
        perm = torch.randperm(x_all.shape[0])
        sums = np.zeros(4)
        n = x_all.shape[0] // B
        G.train()
        D.train()
        for it in range(n):
            x = x_all[perm[it * B:(it + 1) * B]]
            fake = G(torch.randn(B, 100))
            optD.zero_grad(set_to_none=True)
            out_real, out_fake = D(x), D(fake.detach())
            lossD = bce(out_real, real_t) + bce(out_fake, fake_t)
            lossD.backward()
            optD.step()
            optG.zero_grad(set_to_none=True)
            for p in D.parameters():
                p.requires_grad_(False)
            lossG = bce(D(fake), ones_t)
            lossG.backward()
            for p in D.parameters():
                p.requires_grad_(True)
            optG.step()
            sums += [lossD.item(), lossG.item(), torch.sigmoid(out_real).mean().item(),
                     torch.sigmoid(out_fake).mean().item()]
        G.eval()
        with torch.no_grad():
            img = torch.cat([G(fixed[i:i + 500]) for i in range(0, a.samples, 500)])
        img = ((img.reshape(-1, 28, 28) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
        write_idx(os.path.join(a.out, "samples-epoch-%03d.idx" % epoch), img)
        m = sums / n
        line = "%d,%.4f,%.4f,%.4f,%.4f,%.1f" % (epoch, m[0], m[1], m[2], m[3], time.time() - t0)
        log.write(line + "\n")
        log.flush()
        print(line, flush=True)


if __name__ == "__main__":
    main()
