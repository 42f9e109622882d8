"""SDCN autoencoder pretraining: reconstruction improves, weights are cached per data and seed."""
import torch

from graphcl.encoders import SDCNAutoencoder, pretrain_autoencoder, pretrained_autoencoder


def test_pretraining_reduces_reconstruction_error_and_keeps_the_callers_rng(tiny_graph):
    model = SDCNAutoencoder(tiny_graph.num_features, 4, (32, 32, 64))
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    losses = pretrain_autoencoder(model, tiny_graph.x, epochs=15, batch_size=32, seed=0)
    assert torch.equal(torch.rand(1), expected_next)  # the caller's random stream is untouched
    assert losses[-1] < 0.8 * losses[0]


def test_pretrained_weights_are_cached_per_seed(tiny_graph, tmp_path):
    kw = dict(out_channels=4, hidden_channels=(32, 32, 64), epochs=2, batch_size=32, cache_dir=tmp_path)
    first, losses = pretrained_autoencoder(tiny_graph.x, seed=0, **kw)
    again, cached = pretrained_autoencoder(tiny_graph.x, seed=0, **kw)
    other, _ = pretrained_autoencoder(tiny_graph.x, seed=1, **kw)
    changed, _ = pretrained_autoencoder(tiny_graph.x + 1.0, seed=0, **kw)
    assert losses is not None and cached is None and len(list(tmp_path.iterdir())) == 3
    x = tiny_graph.x
    assert torch.equal(first.encode(x), again.encode(x))
    assert not torch.equal(first.encode(x), other.encode(x))
    assert not torch.equal(first.encode(x + 1.0), changed.encode(x + 1.0))


def test_checkpointed_blocks_give_the_same_outputs_and_gradients(tiny_graph):
    torch.manual_seed(0)
    plain = SDCNAutoencoder(tiny_graph.num_features, 4, (32, 32, 64)).double()
    blocked = SDCNAutoencoder(tiny_graph.num_features, 4, (32, 32, 64), checkpoint_rows=7).double()
    blocked.load_state_dict(plain.state_dict())
    x = tiny_graph.x.double()
    assert x.size(0) % 7 != 0  # a ragged last block
    grads = []
    for model in (plain, blocked):
        x_hat, z = model(x)
        (x_hat.square().sum() + z.sin().sum()).backward()
        grads.append([p.grad.clone() for p in model.parameters()])
        outputs = (x_hat.detach(), z.detach())
        if model is plain:
            expected = outputs
    torch.testing.assert_close(outputs, expected, rtol=0, atol=1e-12)
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_checkpoint_rows_must_be_positive():
    import pytest

    from graphcl.errors import InvalidArgumentError
    with pytest.raises(InvalidArgumentError, match="checkpoint_rows"):
        SDCNAutoencoder(8, 4, (16,), checkpoint_rows=0)
