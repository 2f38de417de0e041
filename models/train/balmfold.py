"""BALMFold-small in PyTorch: the training model and the reference balmkit's ONNX graph
(src/fold/balmfold-model.ts) is tested against.

Architecture (after BALMFold, arXiv 2308.16713, sized for a 2-core CPU; AF2 supplement algorithm
numbers where a block follows AlphaFold 2):

  inputs per residue (src/fold/balmfold-input.ts): frozen BALM-small last hidden state, residue
  type, chain (0 H, 1 L), index in chain, BALM/IMGT position id, and the template baseline's
  backbone frame and spread at that IMGT position.

  single s_i = W·feat_i + E_aa[aa_i] + E_chain[c_i] + E_imgt[p_i] + w·err_i
  pair   z_ij = E_rel[rel(i, j)] + A·s_i + B·s_j + W_t·[RBF(|t_j − t_i|), R_iᵀ(t_j − t_i)/(|t_j − t_i| + 1 Å)]
         rel = clip(idx_i − idx_j, ±32) + 32 within a chain, 65 across chains (so H/L orientation
         is predicted from the pair track), t/R the template frames.
  trunk  4 "BAformer" blocks: s += gated pair-biased attention; s += transition;
         z += outer product of s; z += triangle multiplication outgoing, incoming (Alg. 11/12);
         z += transition.
  structure module (Alg. 20, shared weights over 8 layers): IPA (Alg. 22), transition,
         backbone update (Alg. 23) composed onto the frames, which start at the template frames
         instead of the identity, so the network learns corrections; angle resnet → 7 torsions.
  atoms  frames + torsions → atom14 (Alg. 24), the same tables as balmkit's geometry.
  error  per residue: predicted Cα deviation (Å) after Fv framework superposition,
         error_scale · softplus(MLP(LayerNorm(s))) + error_shift: the affine map is fit after training
         on validation predictions (models/train/calibrate_balmfold_error.py) and is identity while
         training, since errors on training entries run smaller than on unseen ones.

  recycling (AF2 Alg. 2 and 32, when cfg["recycles"] > 0): the whole trunk and structure module run
         1 + recycles times; each pass after the first adds LayerNorm(previous trunk single) to s,
         LayerNorm(previous trunk pair) and W_r·[the template pair features of the previous final
         frames] to z, and starts the structure module from the template frames again. These
         weights start at zero, so a model trained without recycling is unchanged by adding them.

No dropout (documented in the model card). Internally translations are in nm
(AF2's scale), inputs and outputs in Å.

Every Linear weight is [out, in] (torch layout): y = x @ W^T + b. state_dict keys are the names
balmkit loads.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULT_CONFIG = {
    "feature_dim": 192,
    "single_dim": 96,
    "pair_dim": 16,
    "trunk_blocks": 4,
    "trunk_heads": 4,
    "triangle_dim": 16,
    "outer_dim": 8,
    "structure_layers": 8,
    "ipa_heads": 4,
    "ipa_scalar_dim": 16,
    "ipa_query_points": 4,
    "ipa_value_points": 8,
    "angle_dim": 64,
    "relpos_clip": 32,
    "imgt_positions": 141,
    "rbf_bins": 16,
    "rbf_min": 2.0,
    "rbf_max": 30.0,
    "recycles": 0,
    "error_scale": 1.0,
    "error_shift": 0.0,
}

NM = 10.0  # Å per internal length unit


class Transition(nn.Module):
    """LayerNorm → Linear(c, n·c) → ReLU → Linear(n·c, c); returns the update."""

    def __init__(self, c: int, n: int = 2):
        super().__init__()
        self.norm = nn.LayerNorm(c)
        self.fc1 = nn.Linear(c, n * c)
        self.fc2 = nn.Linear(n * c, c)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(self.norm(x))))


class PairBiasedAttention(nn.Module):
    """Single-track self-attention with a bias per head from the pair track, gated (Alg. 7 style)."""

    def __init__(self, c_s: int, c_z: int, heads: int):
        super().__init__()
        self.heads = heads
        self.head_dim = c_s // heads
        self.norm = nn.LayerNorm(c_s)
        self.pair_norm = nn.LayerNorm(c_z)
        self.q = nn.Linear(c_s, c_s, bias=False)
        self.k = nn.Linear(c_s, c_s, bias=False)
        self.v = nn.Linear(c_s, c_s, bias=False)
        self.bias = nn.Linear(c_z, heads, bias=False)
        self.gate = nn.Linear(c_s, c_s)
        self.out = nn.Linear(c_s, c_s)

    def forward(self, s, z):
        n = s.shape[0]
        x = self.norm(s)
        q = self.q(x).view(n, self.heads, self.head_dim).transpose(0, 1)  # [H, N, d]
        k = self.k(x).view(n, self.heads, self.head_dim).transpose(0, 1)
        v = self.v(x).view(n, self.heads, self.head_dim).transpose(0, 1)
        b = self.bias(self.pair_norm(z)).permute(2, 0, 1)  # [H, N, N]
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(self.head_dim) + b, dim=-1)
        o = (a @ v).transpose(0, 1).reshape(n, -1)
        return self.out(torch.sigmoid(self.gate(x)) * o)


class OuterProduct(nn.Module):
    """z_ij += W·(a_i ⊗ b_j) (the outer product mean of Alg. 10 for a single sequence)."""

    def __init__(self, c_s: int, c_z: int, c: int):
        super().__init__()
        self.norm = nn.LayerNorm(c_s)
        self.a = nn.Linear(c_s, c)
        self.b = nn.Linear(c_s, c)
        self.out = nn.Linear(c * c, c_z)

    def forward(self, s):
        x = self.norm(s)
        a, b = self.a(x), self.b(x)
        n, c = a.shape
        o = (a[:, None, :, None] * b[None, :, None, :]).reshape(n, n, c * c)
        return self.out(o)


class _ContiguousGrad(torch.autograd.Function):
    """Identity whose backward makes the gradient contiguous: torch's CPU bmm copies every matrix of
    a non-contiguous batch one by one (48 copies per call here), which made the triangle updates'
    backward pass 20× slower than their forward."""

    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, g):
        return g.contiguous()


class TriangleMultiplication(nn.Module):
    """Alg. 11 (outgoing: Σ_k a_ik b_jk) and Alg. 12 (incoming: Σ_k a_ki b_kj)."""

    def __init__(self, c_z: int, c: int, outgoing: bool):
        super().__init__()
        self.outgoing = outgoing
        self.norm = nn.LayerNorm(c_z)
        self.a_gate = nn.Linear(c_z, c)
        self.a = nn.Linear(c_z, c)
        self.b_gate = nn.Linear(c_z, c)
        self.b = nn.Linear(c_z, c)
        self.gate = nn.Linear(c_z, c_z)
        self.out_norm = nn.LayerNorm(c)
        self.out = nn.Linear(c, c_z)

    def forward(self, z):
        x = self.norm(z)
        a = (torch.sigmoid(self.a_gate(x)) * self.a(x)).permute(2, 0, 1).contiguous()  # [c, N, N]
        b = (torch.sigmoid(self.b_gate(x)) * self.b(x)).permute(2, 0, 1).contiguous()
        if self.outgoing:
            t = a @ b.transpose(1, 2)  # [c, i, j] = Σ_k a[c, i, k] b[c, j, k]
        else:
            t = a.transpose(1, 2) @ b  # Σ_k a[c, k, i] b[c, k, j]
        t = _ContiguousGrad.apply(t)
        return torch.sigmoid(self.gate(x)) * self.out(self.out_norm(t.permute(1, 2, 0)))


class TrunkBlock(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        c_s, c_z = cfg["single_dim"], cfg["pair_dim"]
        self.attention = PairBiasedAttention(c_s, c_z, cfg["trunk_heads"])
        self.single_transition = Transition(c_s)
        self.outer = OuterProduct(c_s, c_z, cfg["outer_dim"])
        self.tri_out = TriangleMultiplication(c_z, cfg["triangle_dim"], True)
        self.tri_in = TriangleMultiplication(c_z, cfg["triangle_dim"], False)
        self.pair_transition = Transition(c_z)

    def forward(self, s, z):
        s = s + self.attention(s, z)
        s = s + self.single_transition(s)
        z = z + self.outer(s)
        z = z + self.tri_out(z)
        z = z + self.tri_in(z)
        z = z + self.pair_transition(z)
        return s, z


def apply_frames(R, t, p):
    """R [N,3,3], t [N,3], p [N, ..., 3] → R·p + t per residue."""
    shape = p.shape
    q = p.reshape(shape[0], -1, 3) @ R.transpose(1, 2) + t[:, None, :]
    return q.reshape(shape)


class InvariantPointAttention(nn.Module):
    """Alg. 22."""

    def __init__(self, cfg: dict):
        super().__init__()
        c_s, c_z = cfg["single_dim"], cfg["pair_dim"]
        H, c = cfg["ipa_heads"], cfg["ipa_scalar_dim"]
        Pq, Pv = cfg["ipa_query_points"], cfg["ipa_value_points"]
        self.H, self.c, self.Pq, self.Pv = H, c, Pq, Pv
        self.q = nn.Linear(c_s, H * c)
        self.k = nn.Linear(c_s, H * c)
        self.v = nn.Linear(c_s, H * c)
        self.q_points = nn.Linear(c_s, H * Pq * 3)
        self.k_points = nn.Linear(c_s, H * Pq * 3)
        self.v_points = nn.Linear(c_s, H * Pv * 3)
        self.bias = nn.Linear(c_z, H, bias=False)
        self.head_weights = nn.Parameter(torch.full((H,), math.log(math.e - 1)))  # softplus⁻¹(1)
        self.out = nn.Linear(H * c + H * Pv * 4 + H * c_z, c_s)

    def forward(self, s, z, R, t):
        n = s.shape[0]
        H, c, Pq, Pv = self.H, self.c, self.Pq, self.Pv
        q = self.q(s).view(n, H, c).transpose(0, 1)  # [H, N, c]
        k = self.k(s).view(n, H, c).transpose(0, 1)
        v = self.v(s).view(n, H, c).transpose(0, 1)
        qp = apply_frames(R, t, self.q_points(s).view(n, H * Pq, 3)).view(n, H, Pq * 3).transpose(0, 1)  # [H, N, Pq·3]
        kp = apply_frames(R, t, self.k_points(s).view(n, H * Pq, 3)).view(n, H, Pq * 3).transpose(0, 1)
        vp = apply_frames(R, t, self.v_points(s).view(n, H * Pv, 3)).view(n, H, Pv * 3).transpose(0, 1)
        w_l = math.sqrt(1.0 / 3.0)
        w_c = math.sqrt(2.0 / (9.0 * Pq))
        gamma = F.softplus(self.head_weights).view(H, 1, 1)
        # |qp_i − kp_j|² = |qp_i|² + |kp_j|² − 2 qp_i·kp_j
        sq = (qp * qp).sum(-1, keepdim=True) + (kp * kp).sum(-1)[:, None, :] - 2.0 * (qp @ kp.transpose(1, 2))
        logits = q @ k.transpose(1, 2) / math.sqrt(c) + self.bias(z).permute(2, 0, 1) - gamma * (w_c / 2.0) * sq
        a = torch.softmax(w_l * logits, dim=-1)  # [H, N, N]
        o = (a @ v).transpose(0, 1).reshape(n, H * c)
        op = (a @ vp).transpose(0, 1).reshape(n, H * Pv, 3)  # global
        op = ((op - t[:, None, :]) @ R)  # R^T (x − t), row-vector form
        op_norm = torch.sqrt((op * op).sum(-1) + 1e-8)  # [N, H·Pv]
        o_pair = (a.transpose(0, 1) @ z).reshape(n, -1)  # [N, H, c_z] → [N, H·c_z]
        return self.out(torch.cat([o, op.reshape(n, H * Pv * 3), op_norm, o_pair], dim=-1))


def quaternion_update(u):
    """Alg. 23: u [N, 6] → rotation of the unit quaternion (1, b, c, d)/‖·‖ and translation."""
    b, c, d = u[:, 0], u[:, 1], u[:, 2]
    inv = 1.0 / torch.sqrt(1.0 + b * b + c * c + d * d)
    a, b, c, d = inv, b * inv, c * inv, d * inv
    R = torch.stack([
        a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c),
        2 * (b * c + a * d), a * a - b * b + c * c - d * d, 2 * (c * d - a * b),
        2 * (b * d - a * c), 2 * (c * d + a * b), a * a - b * b - c * c + d * d,
    ], dim=-1).view(-1, 3, 3)
    return R, u[:, 3:]


class AngleResnet(nn.Module):
    """Alg. 20 lines 11–14: 7 torsions as unnormalised (sin, cos)."""

    def __init__(self, c_s: int, c: int):
        super().__init__()
        self.input = nn.Linear(c_s, c)
        self.initial = nn.Linear(c_s, c)
        self.blocks = nn.ModuleList([nn.ModuleList([nn.Linear(c, c), nn.Linear(c, c)]) for _ in range(2)])
        self.output = nn.Linear(c, 14)

    def forward(self, s, s_init):
        a = self.input(F.relu(s)) + self.initial(F.relu(s_init))
        for l1, l2 in self.blocks:
            a = a + l2(F.relu(l1(F.relu(a))))
        return self.output(F.relu(a)).view(-1, 7, 2)


class StructureModule(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        c_s, c_z = cfg["single_dim"], cfg["pair_dim"]
        self.layers = cfg["structure_layers"]
        self.single_norm = nn.LayerNorm(c_s)
        self.pair_norm = nn.LayerNorm(c_z)
        self.input = nn.Linear(c_s, c_s)
        self.ipa = InvariantPointAttention(cfg)
        self.ipa_norm = nn.LayerNorm(c_s)
        self.transition = nn.ModuleList([nn.Linear(c_s, c_s) for _ in range(3)])
        self.transition_norm = nn.LayerNorm(c_s)
        self.backbone_update = nn.Linear(c_s, 6)
        self.angles = AngleResnet(c_s, cfg["angle_dim"])
        nn.init.zeros_(self.backbone_update.weight)
        nn.init.zeros_(self.backbone_update.bias)

    def forward(self, s, z, R, t, detach_rotations: bool = False):
        """R, t: starting frames (t in nm). Returns per layer (R, t, torsions) and the final s."""
        s_init = self.single_norm(s)
        z = self.pair_norm(z)
        s = self.input(s_init)
        layers = []
        for _ in range(self.layers):
            s = self.ipa_norm(s + self.ipa(s, z, R, t))
            x = s
            x = F.relu(self.transition[0](x))
            x = F.relu(self.transition[1](x))
            s = self.transition_norm(s + self.transition[2](x))
            dR, dt = quaternion_update(self.backbone_update(s))
            t = (R @ dt[:, :, None])[:, :, 0] + t
            R = R @ dR
            layers.append((R, t, self.angles(s, s_init)))
            if detach_rotations:
                R = R.detach()
        return layers, s


class BalmFold(nn.Module):
    def __init__(self, cfg: dict | None = None):
        super().__init__()
        cfg = dict(DEFAULT_CONFIG, **(cfg or {}))
        self.cfg = cfg
        c_s, c_z = cfg["single_dim"], cfg["pair_dim"]
        self.feature_proj = nn.Linear(cfg["feature_dim"], c_s)
        self.aatype_embed = nn.Embedding(20, c_s)
        self.chain_embed = nn.Embedding(2, c_s)
        self.imgt_embed = nn.Embedding(cfg["imgt_positions"], c_s)
        self.error_proj = nn.Linear(1, c_s)
        self.relpos_embed = nn.Embedding(2 * cfg["relpos_clip"] + 2, c_z)
        self.left = nn.Linear(c_s, c_z)
        self.right = nn.Linear(c_s, c_z)
        self.template_pair = nn.Linear(cfg["rbf_bins"] + 3, c_z)
        if cfg["recycles"] > 0:
            self.recycle_single_norm = nn.LayerNorm(c_s)
            self.recycle_pair_norm = nn.LayerNorm(c_z)
            self.recycle_pair = nn.Linear(cfg["rbf_bins"] + 3, c_z)
            for m in (self.recycle_single_norm, self.recycle_pair_norm, self.recycle_pair):
                nn.init.zeros_(m.weight)
                nn.init.zeros_(m.bias)
        self.trunk = nn.ModuleList([TrunkBlock(cfg) for _ in range(cfg["trunk_blocks"])])
        self.structure = StructureModule(cfg)
        self.error_norm = nn.LayerNorm(c_s)
        self.error_hidden = nn.Linear(c_s, c_s)
        self.error_out = nn.Linear(c_s, 1)
        self.register_buffer("rbf_centres", torch.linspace(cfg["rbf_min"], cfg["rbf_max"], cfg["rbf_bins"]), persistent=False)

    def relative_positions(self, chain, residue_index):
        clip = self.cfg["relpos_clip"]
        rel = torch.clamp(residue_index[:, None] - residue_index[None, :], -clip, clip) + clip
        return torch.where(chain[:, None] == chain[None, :], rel, torch.full_like(rel, 2 * clip + 1))

    def template_pair_features(self, R, t):
        """[N, N, bins + 3]: RBF of template Cα distances (Å) and the direction to j in i's frame, damped near i: R_iᵀ(t_j − t_i)/(d + 1 Å)."""
        cfg = self.cfg
        d_vec = t[None, :, :] - t[:, None, :]  # [i, j, 3] = t_j − t_i
        dist = torch.sqrt((d_vec * d_vec).sum(-1) + 1e-8)
        sigma = (cfg["rbf_max"] - cfg["rbf_min"]) / (cfg["rbf_bins"] - 1)
        rbf = torch.exp(-(((dist[..., None] - self.rbf_centres) / sigma) ** 2))
        local = (d_vec[:, :, None, :] @ R[:, None, :, :])[:, :, 0, :]  # R_iᵀ(t_j − t_i)
        unit = local / (dist[..., None] + 1.0)
        return torch.cat([rbf, unit], dim=-1)

    def forward(self, features, aatype, chain, residue_index, imgt_position, template_frames, template_error,
                detach_rotations=False, recycles=None):
        """One Fv (no batch axis). Returns the per-layer frames (Å) and torsions of the last pass, and
        the error head. `recycles` overrides cfg["recycles"] (training samples it); passes before the
        last run without gradient, as in AF2."""
        Rt = template_frames.view(-1, 3, 4)
        R0, t0 = Rt[:, :, :3], Rt[:, :, 3]
        s0 = (self.feature_proj(features) + self.aatype_embed(aatype) + self.chain_embed(chain)
              + self.imgt_embed(imgt_position) + self.error_proj(template_error[:, None]))
        z0 = (self.relpos_embed(self.relative_positions(chain, residue_index)) + self.left(s0)[:, None, :]
              + self.right(s0)[None, :, :] + self.template_pair(self.template_pair_features(R0, t0)))
        n_passes = 1 + (self.cfg["recycles"] if recycles is None else recycles)
        prev = None
        for p in range(n_passes):
            with torch.set_grad_enabled(torch.is_grad_enabled() and p == n_passes - 1):
                s, z = s0, z0
                if prev is not None:
                    prev_s, prev_z, prev_R, prev_t = prev
                    s = s + self.recycle_single_norm(prev_s)
                    z = (z + self.recycle_pair_norm(prev_z)
                         + self.recycle_pair(self.template_pair_features(prev_R, prev_t)))
                for block in self.trunk:
                    s, z = block(s, z)
                layers, s_final = self.structure(s, z, R0, t0 / NM, detach_rotations)
                R_last, t_last, _ = layers[-1]
                prev = (s.detach(), z.detach(), R_last.detach(), (t_last * NM).detach())
        error = F.softplus(self.error_out(F.relu(self.error_hidden(self.error_norm(s_final)))))[:, 0]
        error = error * self.cfg["error_scale"] + self.cfg["error_shift"]
        return [(R, t * NM, tor) for R, t, tor in layers], error


def rot_x(tors):
    """Unit (sin, cos) [..., 2] → rotation about x [..., 3, 3]."""
    s, c = tors[..., 0], tors[..., 1]
    one, zero = torch.ones_like(s), torch.zeros_like(s)
    return torch.stack([one, zero, zero, zero, c, -s, zero, s, c], dim=-1).view(*s.shape, 3, 3)


def atoms_from_frames(tables: dict, aatype, R, t, torsions):
    """Alg. 24 with balmkit's tables: frames (Å) + torsions (normalised here) → atom14 [N,14,3], mask [N,14]."""
    tors = torsions / torch.sqrt(torch.clamp((torsions * torsions).sum(-1, keepdim=True), min=1e-12))
    lit = tables["table.default_frames"][aatype].view(-1, 8, 3, 4)  # [N, 8, 3, 4]
    lit_R, lit_t = lit[..., :3], lit[..., 3]
    rx = rot_x(tors)  # [N, 7, 3, 3]
    # local frame of groups 1..7: T_lit ∘ rotX
    loc_R = lit_R[:, 1:] @ rx
    loc_t = lit_t[:, 1:]
    rel_R = [loc_R[:, 0], loc_R[:, 1], loc_R[:, 2], loc_R[:, 3]]
    rel_t = [loc_t[:, 0], loc_t[:, 1], loc_t[:, 2], loc_t[:, 3]]
    for k in range(4, 7):  # chi2..4 chain off the previous chi group
        pR, pt = rel_R[-1], rel_t[-1]
        rel_R.append(pR @ loc_R[:, k])
        rel_t.append((pR @ loc_t[:, k][:, :, None])[:, :, 0] + pt)
    gR = [R] + [R @ r for r in rel_R]
    gt = [t] + [(R @ x[:, :, None])[:, :, 0] + t for x in rel_t]
    gR = torch.stack(gR, 1)  # [N, 8, 3, 3]
    gt = torch.stack(gt, 1)
    group = tables["table.atom14_group"][aatype]  # [N, 14]
    aR = torch.gather(gR, 1, group[:, :, None, None].expand(-1, -1, 3, 3))
    at = torch.gather(gt, 1, group[:, :, None].expand(-1, -1, 3))
    pos = tables["table.atom14_position"][aatype]  # [N, 14, 3]
    mask = tables["table.atom14_mask"][aatype]
    xyz = ((aR @ pos[..., None])[..., 0] + at) * mask[..., None]
    return xyz, mask
