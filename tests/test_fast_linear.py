"""``networks.linear`` (oneDNN products) and ``rssm.GRUCell``: the same values and gradients as PyTorch's own."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from twist_agents.dreamer import networks
from twist_agents.dreamer.rssm import GRUCell


def grads(fn, *tensors):
    for t in tensors:
        t.grad = None
    out = fn(*tensors)
    out.backward(torch.linspace(-1, 1, out.numel()).reshape(out.shape))
    return out.detach(), [None if t.grad is None else t.grad.clone() for t in tensors]


@pytest.mark.parametrize("layout", ["contiguous", "column_slice", "transposed_weight", "frozen_weight", "no_bias"])
def test_linear_matches_f_linear_in_values_and_gradients(layout, monkeypatch):
    monkeypatch.setattr(networks, "_ONEDNN_MIN_MACS", 0)  # always the oneDNN path
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 40, 96, generator=gen)
    w = torch.randn(48, 96, generator=gen)
    b = None if layout == "no_bias" else torch.randn(48, generator=gen).requires_grad_()
    if layout == "column_slice":  # e.g. rssm's split of the posterior layer: neither row- nor column-major
        x = torch.randn(3, 40, 200, generator=gen)[..., 50:146]
        w = torch.randn(48, 300, generator=gen)[:, 100:196]
    if layout == "transposed_weight":
        w = w.t().contiguous().t()
    x, w = x.detach().requires_grad_(), w.detach().requires_grad_(layout != "frozen_weight")
    params = [t for t in (x, w, b) if t is not None]
    fast = grads(lambda *_: networks.linear(x, w, b), *params)
    ref = grads(lambda *_: F.linear(x, w, b), *params)
    torch.testing.assert_close(fast[0], ref[0], rtol=1e-4, atol=1e-4)
    for g_fast, g_ref in zip(fast[1], ref[1], strict=True):
        assert (g_fast is None) == (g_ref is None)
        if g_ref is not None:
            torch.testing.assert_close(g_fast, g_ref, rtol=1e-4, atol=1e-4)


def test_small_products_keep_f_linear_exactly():
    x, w = torch.randn(16, 64), torch.randn(64, 64)
    assert torch.equal(networks.linear(x, w), F.linear(x, w))


@pytest.mark.parametrize("onednn", [False, True])
def test_gru_cell_matches_torch(onednn, monkeypatch):
    if onednn:
        monkeypatch.setattr(networks, "_ONEDNN_MIN_MACS", 0)
    torch.manual_seed(0)
    ref, cell = torch.nn.GRUCell(24, 32), GRUCell(24, 32)
    cell.load_state_dict(ref.state_dict())
    x, h = torch.randn(8, 24, requires_grad=True), torch.randn(8, 32, requires_grad=True)
    torch.testing.assert_close(cell(x, h), ref(x, h), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(cell(x), ref(x), rtol=1e-5, atol=1e-6)
    torch.autograd.grad(cell(x, h).sum(), [x, h, *cell.parameters()])  # differentiable end to end
