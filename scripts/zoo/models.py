"""Model factories for the zoo's `python:` recipes (random init: speed and compile work only).

Each function returns an ``nn.Module`` in eval mode whose ``forward`` takes the inputs the
zoo's recipe names, in order. timm and transformers are imported inside the factories so
this file imports with torch alone.
"""

from __future__ import annotations

from typing import Any


def timm_model(name: str = "mobilevitv2_050", **kwargs: Any) -> Any:
    """A timm architecture, random init (``pretrained=False``: nothing is downloaded)."""
    import timm

    return timm.create_model(name, pretrained=False, **kwargs).eval()


def torchvision_calibrated(name: str, hw: int = 224, batches: int = 4, batch: int = 8,
                           **kwargs: Any) -> Any:
    """A torchvision architecture, random init, its BatchNorm statistics measured on seeded
    random images (every BN layer alone in train mode, cumulative averages).

    A random-init MobileNetV3's logits are below 1e-9 and an EfficientNet-B0's below 1e-13
    with the default statistics (mean 0, var 1): under fp16's smallest subnormal, so an fp16
    engine returns zeros (docs/zoo-findings.md G6). Measured statistics give activations
    of the size trained weights give (logits ~0.03 and ~0.35).
    """
    import torch
    import torchvision

    model = getattr(torchvision.models, name)(weights=None, **kwargs).eval()
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over the batches
        norm.train()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(batch, 3, hw, hw, generator=generator))
    return model.eval()


def distilbert(vocab_size: int = 30522, layers: int = 6) -> Any:
    """DistilBERT-base encoder from its default config (random init): last hidden state.

    forward(input_ids, attention_mask), both int64 of batch x seq.
    """
    import torch
    from transformers import DistilBertConfig, DistilBertModel

    config = DistilBertConfig(vocab_size=vocab_size, n_layers=layers)
    encoder = DistilBertModel(config).eval()

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                return_dict=False)[0]

    return Encoder().eval()


def lstm_classifier(features: int = 64, hidden: int = 256, layers: int = 2,
                    classes: int = 10) -> Any:
    """A 2-layer LSTM over batch x seq x features, classifying from the last step."""
    import torch

    class LSTMClassifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = torch.nn.LSTM(features, hidden, num_layers=layers, batch_first=True)
            self.head = torch.nn.Linear(hidden, classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out, _ = self.lstm(x)
            return self.head(out[:, -1])

    torch.manual_seed(0)
    return LSTMClassifier().eval()


def gru_tagger(features: int = 80, hidden: int = 192, classes: int = 32) -> Any:
    """A bidirectional GRU tagging every step of batch x seq x features (speech-like)."""
    import torch

    class GRUTagger(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = torch.nn.GRU(features, hidden, batch_first=True, bidirectional=True)
            self.head = torch.nn.Linear(2 * hidden, classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out, _ = self.gru(x)
            return self.head(out)

    torch.manual_seed(0)
    return GRUTagger().eval()
