"""The multimodal transformer (model.md, "Token layout", "Block", "Pooling") of any registered architecture.

Channel architectures (MCA, MMA; `archs`), per sample: `[tokens of modality 0 | ... | modality M-1 | F fusion
tokens]`, attention restricted by the rule table of `masks`, then learnable pooling into one embedding per
modality and per channel. The same modules run on two layouts: `dense` (padded (B, T, D), full (T, T) attention
under the combined mask; the reference) and `packed` (only present tokens, see `packing`). Both give the same
outputs up to floating-point noise. `absent: faithful` (dense only) treats absent and padding slots as the
authors' code did, leak included (`absent`).
Pass architectures (EAO): no fusion tokens and no learnable pooling; the shared blocks run every (sample, pass)
row in one forward (`passes`), each pass mean-pooled into one embedding; they never read absent slots.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from mca_platform import archs
from mca_platform.config.model import ModelConfig
from mca_platform.data.spec import ModalitySpec
from mca_platform.model import absent, masks
from mca_platform.model.column_groups import group_columns
from mca_platform.model.dense import DenseLayout
from mca_platform.model.encoders import build_encoder
from mca_platform.model.packing import PackedLayout
from mca_platform.model.passes import PassLayout
from mca_platform.model.pooling import PoolingAttention


class SelfAttention(nn.Module):
    """Multi-head self-attention without biases; the layout decides who reads whom."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.to_qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.to_out = nn.Linear(dim, dim, bias=False)

    def forward(self, x: torch.Tensor, layout) -> torch.Tensor:
        q, k, v = self.to_qkv(x).unflatten(-1, (3, self.heads, -1)).unbind(-3)  # (..., H, Dh) each
        return self.to_out(layout.attend(q, k, v).flatten(-2))


class GEGLU(nn.Module):
    """GeGLU feed-forward with inner width int(D * 4 * 2 / 3), exact GELU, no biases."""

    def __init__(self, dim: int):
        super().__init__()
        inner = int(dim * 4 * 2 / 3)
        self.to_hidden = nn.Linear(dim, 2 * inner, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, gate = self.to_hidden(x).chunk(2, dim=-1)
        return self.to_out(value * nn.functional.gelu(gate))


class Block(nn.Module):
    """One layer. faithful: `h = LN(x); h = h + Attn(h); h = LN(h); out = h + FF(h)` with one shared LN
    (the authors' code: the residual carries the normalised input); prenorm: standard pre-LN."""

    def __init__(self, dim: int, heads: int, form: str):
        super().__init__()
        match form:
            case "faithful":
                self.norms = nn.ModuleList([nn.LayerNorm(dim, bias=False)])
            case "prenorm":
                self.norms = nn.ModuleList([nn.LayerNorm(dim, bias=False), nn.LayerNorm(dim, bias=False)])
            case _:
                raise ValueError(f"unknown block {form!r} (expected 'faithful' or 'prenorm')")
        self.form = form
        self.attention = SelfAttention(dim, heads)
        self.feed_forward = GEGLU(dim)

    def forward(self, x: torch.Tensor, layout) -> torch.Tensor:
        match self.form:
            case "faithful":
                norm = self.norms[0]
                h = norm(x)
                h = norm(h + self.attention(h, layout))
                return h + self.feed_forward(h)
            case "prenorm":
                x = x + self.attention(self.norms[0](x), layout)
                return x + self.feed_forward(self.norms[1](x))
            case _:
                raise ValueError(f"unknown block {self.form!r}")


@dataclass
class ModelOutput:
    """Pooled embeddings and presence, keyed by modality name and channel name ('a+b+c')."""

    embeddings: dict[str, torch.Tensor]  # (B, D) each
    present: dict[str, torch.Tensor]  # (B,) bool each; a channel is present when any member is
    fusion_key: str  # the all-modality key, whose embedding is the fusion embedding
    logit_scale: torch.Tensor  # () the clamped learnable log logit scale s; logits use exp(s)

    @property
    def fusion(self) -> torch.Tensor:
        """(B, D) the fusion embedding (MCA / MMA: the pooled all-modality channel; EAO: see `archs.eao`)."""
        return self.embeddings[self.fusion_key]


class MultimodalTransformer(nn.Module):
    """Per-modality encoders, the shared transformer, pooling, shared logit scale; `config.arch` picks the
    architecture (`archs`): its channels (fusion tokens, rule table, learnable pooling) or its passes.

    The learnable logit scale of the contrastive loss lives here (init ln(1 / temperature_init)); the output
    carries it clamped to [0, ln(logit_scale_max)].
    """

    def __init__(self, config: ModelConfig, specs: Sequence[ModalitySpec]):
        super().__init__()
        names = [spec.name for spec in specs]
        if len(names) < 2:
            raise ValueError(f"the model needs at least two modalities (got {names})")
        if len(set(names)) != len(names) or any("+" in name for name in names):
            raise ValueError(f"modality names must be distinct and free of '+' (got {names})")
        self.config = config
        self.path = config.path
        self.names = names
        self.arch = archs.get(config.arch)
        self.channels = self.arch.groups(len(names), config.channel_sizes)  # channels, or passes
        sequences = [spec.name for spec in specs if spec.kind == "sequence"]
        self.tables = [spec.name for spec in specs if spec.kind == "table"]
        unknown = sorted(set(config.sequence_slots) - set(sequences))
        if unknown:
            raise ValueError(f"model.sequence_slots names {unknown[0]!r}, which is not a sequence modality {sequences}")
        self.channel_names = [masks.channel_name(channel, names) for channel in self.channels]
        self.fusion_key = masks.channel_name(tuple(range(len(names))), names)
        members = masks.channel_members(self.channels, len(names))
        self.register_buffer("channel_members", members, persistent=False)  # (C, M)

        self.encoders = nn.ModuleDict(
            {
                spec.name: build_encoder(spec, config.dim, config.column_embedding_max_norm, config.columns_per_token)
                for spec in specs
            }
        )
        if self.arch.layout == "channels":
            num_groups = len(names) + len(self.channels)
            self.register_buffer("rule", masks.group_rule(members), persistent=False)  # (G, G)
            fusion_group = masks.fusion_groups(len(names), len(self.channels), config.fusion_tokens)
            self.register_buffer("fusion_group", fusion_group, persistent=False)  # (F,)
            self.register_buffer("query_group", torch.arange(num_groups), persistent=False)  # (M + C,)
            self.fusion_tokens = nn.Parameter(torch.randn(config.fusion_tokens, config.dim))
        self.blocks = nn.ModuleList([Block(config.dim, config.heads, config.block) for _ in range(config.depth)])
        self.final_norm = nn.LayerNorm(config.dim, bias=False)
        if self.arch.layout == "channels":
            self.pooling = PoolingAttention(config.dim, config.heads, num_groups)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / config.loss.temperature_init)))

    def loss_terms(self, kind: str) -> list[tuple[str, str]]:
        """The (a, b) embedding-key pairs of the architecture's term set `kind` (config `model.loss.terms`)."""
        return self.arch.terms(kind, self.names, self.channel_names, self.fusion_key)

    def layout(self, token_present: dict[str, torch.Tensor], modality_present: torch.Tensor):
        """The dense or packed layout of this batch, by `self.path`."""
        if self.path not in ("dense", "packed"):
            raise ValueError(f"unknown path {self.path!r} (expected 'dense' or 'packed')")
        if self.arch.layout == "passes":
            dense = self.path == "dense"
            return PassLayout(self.names, token_present, modality_present, self.channel_members, dense)
        if self.path == "dense":
            return DenseLayout(
                self.names, token_present, self.rule, self.fusion_group, self.query_group, self.config.absent
            )
        if self.config.absent == "faithful":
            raise ValueError("absent='faithful' needs path='dense' (got path='packed')")
        return PackedLayout(self.names, token_present, modality_present, self.rule, self.fusion_group, self.query_group)

    def forward(
        self,
        inputs: dict[str, torch.Tensor],
        token_present: dict[str, torch.Tensor],
        modality_present: torch.Tensor,
    ) -> ModelOutput:
        """A `Batch`'s inputs, token_present (B, L_m) and modality_present (B, M) -> pooled embeddings."""
        faithful = self.config.absent == "faithful" and self.arch.layout == "channels"  # EAO: see archs/eao.py
        if faithful:
            inputs, token_present = absent.pad_sequences(inputs, token_present, self.config.sequence_slots)
        if self.config.columns_per_token > 1:
            inputs, token_present = dict(inputs), dict(token_present)
            for name in self.tables:
                inputs[name], token_present[name] = group_columns(
                    inputs[name], token_present[name], self.config.columns_per_token
                )
        layout = self.layout(token_present, modality_present)
        tokens = []
        for name in self.names:
            values, positions = layout.encoder_inputs(name, inputs[name])
            encoded = self.encoders[name](values, positions)
            if faithful:  # padding and absent slots encoded as the authors' code did
                padding = self.encoders[name].padding_slot(positions)
                encoded = absent.slot_tokens(encoded, token_present[name], padding)
            tokens.append(encoded)
        if self.arch.layout == "passes":
            x = layout.assemble(tokens)  # (N, D): every present pass's tokens
        else:
            x = layout.assemble(tokens, self.fusion_tokens)  # (B, T, D) dense or (N, D) packed
        for block in self.blocks:
            x = block(x, layout)
        logit_scale = self.logit_scale.clamp(0.0, math.log(self.config.loss.logit_scale_max))
        if self.arch.layout == "passes":
            embeddings, present = self._pass_outputs(*layout.mean_pool(self.final_norm(x)))
            return ModelOutput(embeddings, present, self.fusion_key, logit_scale)
        pooled = self.pooling(self.final_norm(x), layout)  # (B, M + C, D)

        num_modalities = len(self.names)
        channel_present = masks.channel_present(self.channel_members, modality_present)  # (B, C)
        embeddings = {name: pooled[:, j] for j, name in enumerate(self.names)}
        present = {name: modality_present[:, j] for j, name in enumerate(self.names)}
        for k, name in enumerate(self.channel_names):
            embeddings[name] = pooled[:, num_modalities + k]
            present[name] = channel_present[:, k]
        return ModelOutput(embeddings, present, self.fusion_key, logit_scale)

    def _pass_outputs(
        self, pooled: torch.Tensor, pass_present: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Per pass its embedding and presence; the fusion embedding is the mean of the present multi-modality
        passes (for EAO the pairs; zero where none is present), present when any modality is."""
        embeddings = {name: pooled[:, p] for p, name in enumerate(self.channel_names)}
        present = {name: pass_present[:, p] for p, name in enumerate(self.channel_names)}
        fused = [p for p, channel in enumerate(self.channels) if len(channel) > 1]
        weight = pass_present[:, fused].to(pooled.dtype)  # (B, pairs)
        total = (pooled[:, fused] * weight[..., None]).sum(dim=1)
        embeddings[self.fusion_key] = total / weight.sum(dim=1, keepdim=True).clamp(min=1)
        present[self.fusion_key] = pass_present.any(dim=1)
        return embeddings, present
