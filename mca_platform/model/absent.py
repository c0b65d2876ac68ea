"""The authors' treatment of absent and padding slots (`model.absent: faithful`), reproduced on the dense path.

What their code (github.com/josiahbjorgaard/mca-paper: model.py `Attention`, `MCA.forward`; encoders.py) does:
- Every slot of `[modality 0 padded to its pad_len | ... | modality M-1 | F fusion tokens]` is computed,
  absent modalities included (an absent modality is all padding: the collator fills it with the pad value).
- A padding or absent slot enters as: a sequence slot (`EmbeddedSequenceEncoder`) with its encoded features
  zeroed, i.e. the sinusoidal position alone; a table slot (`TabularEncoder`) as the collator's pad value
  -10000 through the value MLP and LayerNorm, plus its column embedding (their value encoder's own padding
  check compares with -1, a different value, and never fires).
- Masking fills the scores of forbidden keys with -finfo.max, then softmax. A query with an allowed key reads
  only allowed keys (no diagonal is added: a padding slot does not read itself). A query with no allowed key
  has all T scores equal, so the softmax is uniform: it reads the plain mean of the values of ALL T slots of
  its sample (every modality's slots, absent and padding ones included, and all fusion tokens). That happens
  to every token of an absent modality in every layer, and to an absent modality's pooling query, whose
  embedding is therefore `to_out(mean over the T slots of v) + query`: the other modalities leak into it.
- The loss takes these embeddings as they are: a term's rows are the samples where both sides are present and
  every sample stays a candidate column (`loss.negatives: faithful`), leaked absent embeddings included.
The mean runs over T slots, so T must be the authors' T: tables have fixed widths; a sequence modality is
padded to `model.sequence_slots[name]` (their pad_len) when given, else to the batch's longest row count.

The platform default (`absent: masked`) reads no absent or padding slot, the diagonal keeps every row
non-empty, and an absent modality's embedding is its bare pooling query (marked absent, left out of losses).
"""

from __future__ import annotations

import torch


def pad_sequences(
    inputs: dict[str, torch.Tensor], token_present: dict[str, torch.Tensor], slots: dict[str, int]
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Inputs (B, L, D_m) and token_present (B, L) of each modality named in `slots`, padded to that many slots."""
    inputs, token_present = dict(inputs), dict(token_present)
    for name, count in slots.items():
        values, present = inputs[name], token_present[name]
        rows = values.shape[1]
        if rows > count:
            raise ValueError(f"model.sequence_slots[{name!r}]={count} is shorter than a batch's {rows} rows")
        inputs[name] = torch.cat([values, values.new_zeros(values.shape[0], count - rows, *values.shape[2:])], 1)
        token_present[name] = torch.cat([present, present.new_zeros(present.shape[0], count - rows)], 1)
    return inputs, token_present


def slot_tokens(tokens: torch.Tensor, present: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
    """(B, L, D): the encoded tokens where present, the authors' padding-slot encoding `padding` elsewhere."""
    return torch.where(present[..., None], tokens, padding.to(tokens.dtype))


def mean_fallback(out: torch.Tensor, v: torch.Tensor, no_key: torch.Tensor) -> torch.Tensor:
    """Rows `no_key` (B, Q) of `out` (B, Q, H, Dh) replaced by the mean of `v` (B, T, H, Dh) over all T slots."""
    return torch.where(no_key[..., None, None], v.mean(dim=1, keepdim=True), out)
