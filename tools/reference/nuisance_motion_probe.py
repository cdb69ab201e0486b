# Diagnosis for the nuisance-rich benchmark (experiments/README.md, second round): can a probe trained on the
# benchmark's 300 labeled clips read the class from a hand-made, appearance-free motion feature (global flow moments
# per frame pair)? Logistic regression, weight decay chosen on dev, test reported.
#   /usr/bin/python3 tools/reference/nuisance_motion_probe.py data/nuisance/kinetics
# Decodes with the ffmpeg CLI (no PyAV needed).
import glob, os, subprocess, sys, numpy as np
import torch
root = sys.argv[1]
def load(split):
    X, y, names = [], [], sorted(os.listdir(f"{root}/{split}"))
    for c, name in enumerate(names):
        for f in sorted(glob.glob(f"{root}/{split}/{name}/*.mp4")):
            raw = subprocess.run(["ffmpeg", "-v", "error", "-i", f, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
            fr = np.frombuffer(raw, np.uint8).reshape(-1, 64, 64, 3).astype(np.float32) / 255
            X.append(feature(fr)); y.append(c)
    return np.array(X), np.array(y)
def feature(fr):
    g = fr.mean(-1)                                   # [T, H, W]
    T, H, W = g.shape
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32); xx -= W / 2; yy -= H / 2
    feats = []
    for t in range(T - 1):
        a, b = g[t], g[t + 1]
        m = (a + b) / 2
        Iy, Ix = np.gradient(m); It = b - a
        # flow moments: translation (Ix It, Iy It), divergence (x Ix + y Iy) It, curl (y Ix - x Iy) It, brightness change
        feats += [(Ix * It).sum(), (Iy * It).sum(), ((xx * Ix + yy * Iy) * It).sum(), ((yy * Ix - xx * Iy) * It).sum(),
                  np.abs(It).sum(), (Ix * Ix).sum(), (Iy * Iy).sum()]
    return np.array(feats)
Xtr, ytr = load("train"); Xdv, ydv = load("dev"); Xte, yte = load("test")
mu, sd = Xtr.mean(0), Xtr.std(0) + 1e-8
Xtr, Xdv, Xte = (Xtr - mu) / sd, (Xdv - mu) / sd, (Xte - mu) / sd
def fit(X, y, wd):
    X, y = torch.tensor(X, dtype=torch.float64), torch.tensor(y)
    W = torch.zeros(X.shape[1], 10, dtype=torch.float64, requires_grad=True); b = torch.zeros(10, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], max_iter=500, line_search_fn="strong_wolfe")
    def closure():
        opt.zero_grad(); loss = torch.nn.functional.cross_entropy(X @ W + b, y) + wd * (W * W).sum(); loss.backward(); return loss
    opt.step(closure)
    return lambda Z, t: ((torch.tensor(Z, dtype=torch.float64) @ W + b).argmax(1).numpy() == t).mean()
models = [(fit(Xtr, ytr, wd), wd) for wd in [1e-4, 1e-3, 1e-2, 1e-1]]
m, wd = max(models, key=lambda m: m[0](Xdv, ydv))
print(f"logistic on flow moments ({Xtr.shape[1]} features): wd {wd}, train {m(Xtr, ytr)*100:.1f}%, dev {m(Xdv, ydv)*100:.1f}%, test {m(Xte, yte)*100:.1f}%")
