"""The baselines of §6.2 (Table 4) and §7.8 (Table 6), one module each.

`stickerchat.models.registry.MODELS` lists them:

| name          | model                                                   | module          |
|---------------|---------------------------------------------------------|-----------------|
| `smn`         | SMN, Wu et al., ACL 2017                                | `smn`           |
| `dam`         | DAM, Zhou et al., ACL 2018                              | `dam`           |
| `mrfn`        | MRFN (last-stage fusion), Tao et al., WSDM 2019         | `mrfn`          |
| `synergistic` | Synergistic network, Guo et al., CVPR 2019              | `synergistic`   |
| `psac`        | PSAC, Li et al., AAAI 2019                              | `psac`          |
| `lstur`       | LSTUR-ini, An et al., ACL 2019                          | `lstur`         |
| `most_selected` | MostSelected heuristic, §7.8 (no weights)             | `most_selected` |

The trained ones are `StickerRanker`s: the shared sticker encoder and emoji
head of PESRS around a model-specific matcher layer (a `BaselineMatcher`,
see `common`). Each matcher's docstring names its paper and says what was
adapted.
"""

from stickerchat.models.baselines.dam import DAMMatcher, build_dam
from stickerchat.models.baselines.lstur import LSTURMatcher, build_lstur
from stickerchat.models.baselines.most_selected import MostSelected, SelectionCounts, build_most_selected
from stickerchat.models.baselines.mrfn import MRFNMatcher, build_mrfn
from stickerchat.models.baselines.psac import PSACMatcher, build_psac
from stickerchat.models.baselines.smn import SMNMatcher, build_smn
from stickerchat.models.baselines.synergistic import SynergisticMatcher, build_synergistic

BASELINE_NAMES = ("smn", "dam", "mrfn", "synergistic", "psac", "lstur", "most_selected")

__all__ = [
    "BASELINE_NAMES",
    "DAMMatcher",
    "LSTURMatcher",
    "MRFNMatcher",
    "MostSelected",
    "PSACMatcher",
    "SMNMatcher",
    "SelectionCounts",
    "SynergisticMatcher",
    "build_dam",
    "build_lstur",
    "build_most_selected",
    "build_mrfn",
    "build_psac",
    "build_smn",
    "build_synergistic",
]
