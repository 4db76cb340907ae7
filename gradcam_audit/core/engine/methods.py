"""The CAM methods: each a small class over a shared base that overrides only what differs.

Shapes: activations and gradients are (B, h, w, K) float64; maps are (B, h, w), before the final ReLU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import numpy as np

from gradcam_audit.errors import ModelError

_EPSILON = 1e-12


class CamMethod:
    """Base: the map is the channel-weighted sum of activations, sum_k w_k A_k (Grad-CAM's shape)."""

    name = ""
    uses_gradients = True
    uses_masked_scores = False

    def channel_weights(self, activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
        """(B, K) weights; overridden by each weighting method."""
        raise NotImplementedError

    def raw_map(self, activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
        weights = self.channel_weights(activations, gradients)
        return cast(np.ndarray, np.einsum("bhwk,bk->bhw", activations, weights))


class GradCam(CamMethod):
    """Selvaraju et al. 2017: w_k = mean over positions of dy^c/dA_k."""

    name = "gradcam"

    def channel_weights(self, activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
        return cast(np.ndarray, gradients.mean(axis=(1, 2)))


class GradCamPlusPlus(CamMethod):
    """Chattopadhay et al. 2018, closed form with an exponential score:
    alpha = g² / (2 g² + sum_ab A · g³), w_k = sum_ij alpha · ReLU(g)."""

    name = "gradcam++"

    def channel_weights(self, activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
        squared = gradients**2
        cubed = gradients**3
        activation_sums = activations.sum(axis=(1, 2), keepdims=True)
        denominator = 2.0 * squared + activation_sums * cubed
        alpha = np.divide(squared, denominator, out=np.zeros_like(squared), where=np.abs(denominator) > _EPSILON)
        return cast(np.ndarray, (alpha * np.maximum(gradients, 0.0)).sum(axis=(1, 2)))


class XGradCam(CamMethod):
    """Fu et al. 2020: w_k = sum_ij (A_k g_k) / sum_ij A_k."""

    name = "xgradcam"

    def channel_weights(self, activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
        sums = activations.sum(axis=(1, 2))
        products = (activations * gradients).sum(axis=(1, 2))
        return cast(np.ndarray, np.divide(products, sums, out=np.zeros_like(products), where=np.abs(sums) > _EPSILON))


class HiResCam(CamMethod):
    """Draelos & Carin 2020: element-wise sum_k g_k ⊙ A_k (no spatial averaging of gradients)."""

    name = "hirescam"

    def raw_map(self, activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
        return cast(np.ndarray, (activations * gradients).sum(axis=3))


class LayerCam(CamMethod):
    """Jiang et al. 2021: element-wise sum_k ReLU(g_k) ⊙ A_k."""

    name = "layercam"

    def raw_map(self, activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
        return cast(np.ndarray, (activations * np.maximum(gradients, 0.0)).sum(axis=3))


class EigenCam(CamMethod):
    """Muhammad & Yeasin 2020: projection of the (centred) activations on their first principal component.

    The SVD's sign is arbitrary; we orient the component so the projection correlates positively with the
    channel-summed activations, so a strong feature response never comes out as negative evidence.
    """

    name = "eigencam"
    uses_gradients = False

    def raw_map(self, activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
        batch, height, width, channels = activations.shape
        maps = np.zeros((batch, height, width), dtype=np.float64)
        for index in range(batch):
            flat = activations[index].reshape(height * width, channels)
            centred = flat - flat.mean(axis=0)
            if not np.any(centred):
                continue
            _, _, right_vectors = np.linalg.svd(centred, full_matrices=False)
            projection = centred @ right_vectors[0]
            if np.dot(projection, flat.sum(axis=1) - flat.sum(axis=1).mean()) < 0:
                projection = -projection
            maps[index] = projection.reshape(height, width)
        return maps


class ScoreCam(CamMethod):
    """Wang et al. 2020: w_k = softmax over k of the target's probability on the input masked by the
    normalised, upsampled A_k. The engine computes those scores (batched over channels) and passes them in."""

    name = "scorecam"
    uses_gradients = False
    uses_masked_scores = True

    @staticmethod
    def weights_from_scores(scores: np.ndarray) -> np.ndarray:
        """(B, K) masked-input probabilities → (B, K) softmax weights."""
        shifted = scores - scores.max(axis=1, keepdims=True)
        exponentials = np.exp(shifted)
        return cast(np.ndarray, exponentials / exponentials.sum(axis=1, keepdims=True))

    def raw_map_from_scores(self, activations: np.ndarray, scores: np.ndarray) -> np.ndarray:
        return cast(np.ndarray, np.einsum("bhwk,bk->bhw", activations, self.weights_from_scores(scores)))

    def raw_map(self, activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
        raise ModelError("Score-CAM needs masked-input scores; call raw_map_from_scores")


METHODS: dict[str, Callable[[], CamMethod]] = {
    method.name: method for method in (GradCam, GradCamPlusPlus, HiResCam, XGradCam, LayerCam, ScoreCam, EigenCam)
}


def get_method(name: str) -> CamMethod:
    try:
        return METHODS[name.lower()]()
    except KeyError:
        raise ModelError(f"unknown CAM method {name!r}; choose one of {', '.join(METHODS)}") from None


def normalise_channel_masks(activations: np.ndarray) -> np.ndarray:
    """Score-CAM's masks: each channel min-max normalised to [0, 1] (constant channels become 0)."""
    minimum = activations.min(axis=(0, 1), keepdims=True)
    maximum = activations.max(axis=(0, 1), keepdims=True)
    spread = maximum - minimum
    return cast(np.ndarray, np.divide(activations - minimum, spread, out=np.zeros_like(activations), where=spread > _EPSILON))
