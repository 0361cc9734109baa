import numpy as np
import pytest
import torch
from torch.nn import functional as F

from lightning_oneshot.supernet import MixedEdge

OPTIMIZERS = {
    "sgd_momentum_weight_decay": lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True),
    "adamw": lambda params: torch.optim.AdamW(params, lr=0.01, weight_decay=0.1),
    "adam_weight_decay": lambda params: torch.optim.Adam(params, lr=0.01, weight_decay=0.1),
}


def _inactive_parameters(supernet) -> dict[int, torch.nn.Parameter]:
    inactive = {}
    for module in supernet.modules():
        if isinstance(module, MixedEdge):
            for name, op in module.candidates.items():
                if name not in module.active_names:
                    inactive.update({id(p): p for p in op.parameters()})
    return inactive


def _step(supernet, optimizer, images, labels):
    optimizer.zero_grad(set_to_none=True)
    F.cross_entropy(supernet(images), labels).backward()
    optimizer.step()


@pytest.mark.parametrize("optimizer_name", OPTIMIZERS)
def test_inactive_ops_keep_weights_bit_identical(tiny_space, images, optimizer_name):
    torch.manual_seed(0)
    supernet = tiny_space.build_supernet().train()
    optimizer = OPTIMIZERS[optimizer_name](supernet.parameters())
    labels = torch.arange(len(images)) % 10
    rng = np.random.default_rng(0)

    # Earlier steps under other masks give many operations momentum and Adam state.
    for _ in range(5):
        supernet.set_mask(tiny_space.sample(rng))
        _step(supernet, optimizer, images, labels)

    supernet.set_mask(tiny_space.sample(rng))
    inactive = _inactive_parameters(supernet)
    assert inactive, "the sampled path should leave some operations inactive"
    with_state = [p for p in inactive.values() if optimizer.state.get(p)]
    assert with_state, "some inactive operations should carry optimizer state from earlier steps"
    before = {key: p.detach().clone() for key, p in inactive.items()}

    _step(supernet, optimizer, images, labels)

    for key, p in inactive.items():
        assert torch.equal(p.detach(), before[key])


def test_inactive_ops_get_no_gradient(tiny_space, images):
    supernet = tiny_space.build_supernet().train()
    supernet.set_mask(tiny_space.sample(np.random.default_rng(3)))
    F.cross_entropy(supernet(images), torch.zeros(len(images), dtype=torch.long)).backward()
    assert all(p.grad is None for p in _inactive_parameters(supernet).values())


def test_active_ops_are_updated(tiny_space, images):
    supernet = tiny_space.build_supernet().train()
    arch = tiny_space.architecture({edge: "conv_3x3" for edge in tiny_space.edges})
    supernet.set_mask(arch)
    conv = supernet.network.cells[0].edges["edge_0_1"].candidates["conv_3x3"][1].weight
    before = conv.detach().clone()
    _step(supernet, torch.optim.SGD(supernet.parameters(), lr=0.1), images, torch.zeros(len(images), dtype=torch.long))
    assert not torch.equal(conv.detach(), before)


def test_inactive_batchnorm_statistics_are_unchanged(tiny_space, images):
    supernet = tiny_space.build_supernet().train()
    supernet.set_mask(tiny_space.architecture({edge: "conv_1x1" for edge in tiny_space.edges}))
    bn = supernet.network.cells[0].edges["edge_0_1"].candidates["conv_3x3"][2]
    before = bn.running_mean.clone(), bn.running_var.clone()
    supernet(images)
    assert torch.equal(bn.running_mean, before[0])
    assert torch.equal(bn.running_var, before[1])


def test_architectures_sharing_an_edge_share_its_weights(tiny_space):
    supernet = tiny_space.build_supernet()
    first = tiny_space.architecture({edge: "conv_3x3" for edge in tiny_space.edges})
    second = tiny_space.architecture({**first.to_dict(), "edge_1_2": "skip_connect"})
    supernet.set_mask(first)
    module_first = supernet.network.cells[0].edges["edge_0_1"]._active[0]
    supernet.set_mask(second)
    module_second = supernet.network.cells[0].edges["edge_0_1"]._active[0]
    assert module_first is module_second


def test_droppath_mask_runs_several_ops_per_edge(tiny_space, images):
    supernet = tiny_space.build_supernet().train()
    supernet.set_mask(tiny_space.full_mask())
    out = supernet(images)
    F.cross_entropy(out, torch.zeros(len(images), dtype=torch.long)).backward()
    edge = supernet.network.cells[0].edges["edge_0_1"]
    assert edge.candidates["conv_3x3"][1].weight.grad is not None
    assert edge.candidates["conv_1x1"][1].weight.grad is not None


def test_forward_without_mask_raises(tiny_space, images):
    with pytest.raises(RuntimeError, match="before set_mask"):
        tiny_space.build_supernet()(images)


def test_averaging_edge_returns_mean_of_active_ops():
    from torch import nn

    edge = MixedEdge({"scale_by_two": nn.Linear(1, 1, bias=False), "none": None, "skip": nn.Identity()}, average=True)
    nn.init.constant_(edge.candidates["scale_by_two"].weight, 2.0)
    x = torch.ones(1, 1)
    edge.set_active(["scale_by_two", "skip"])
    assert torch.equal(edge(x), torch.full((1, 1), 1.5))
    edge.set_active(["scale_by_two"])
    assert torch.equal(edge(x), torch.full((1, 1), 2.0))


def test_default_hierarchical_whole_model_stays_finite():
    from lightning_oneshot.spaces.registry import build_space

    space = build_space("hierarchical", in_channels=1, num_classes=10)
    torch.manual_seed(0)
    supernet = space.build_supernet().train()
    supernet.set_mask(space.full_mask())
    with torch.no_grad():
        supernet(torch.randn(8, 1, 8, 8))
    # Summed instead of averaged, nested motifs drive these statistics to infinity in one pass.
    variances = [m.running_var for m in supernet.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(torch.isfinite(v).all() for v in variances)
