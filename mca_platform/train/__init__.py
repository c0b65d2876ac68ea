"""Training: one run of MCA / MMA, a plain-PyTorch worker loop (`loop.fit`) and a thin Ray Train driver."""
