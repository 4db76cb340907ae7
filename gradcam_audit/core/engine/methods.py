"""The CAM methods: each a small class over a shared base that overrides only what differs.

Shapes: activations and gradients are (B, h, w, K) float64; maps are (B, h, w), before the final ReLU.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, cast

import numpy as np

from gradcam_audit.core.engine.mapping import interpolation_matrix
from gradcam_audit.core.engine.tokens import TokenLayout
from gradcam_audit.errors import ModelError

_EPSILON = 1e-12

class ClassProbabilities(Protocol):
    """The engine's forward pass on other inputs: (N, H, W, C) model input → (N, num_classes) class probabilities.

    A segmentation or detection engine also needs ``task_inputs``: (N, D) rows saying which pixels or which candidate
    each input's probabilities are about (core/engine/targets.py); a classifier's engine is called without them.
    """

    def __call__(self, inputs: np.ndarray, task_inputs: np.ndarray | None = None, /) -> np.ndarray: ...


@dataclass(frozen=True)
class CamBatch:
    """Everything the engine knows about one batch, handed to a CAM method to turn into maps.

    Attributes:
        inputs: (B, H, W, C) float32, the preprocessed model input.
        activations: (B, h, w, K) float64, the explained layer's output.
        gradients: (B, h, w, K) float64, d score / d activations (zeros for methods without gradients).
        targets: (B,) int, the class explained in each image.
        class_probabilities: runs the model forward on other inputs, for methods that perturb the input.
        batch_size: the most inputs to give ``class_probabilities`` in one call.
        attention: (L, B, T, T) float32, each MultiHeadAttention's probabilities averaged over heads, in call
            order (None unless the method uses attention); methods compute in float64 one layer at a time.
        gradient_attention: (L, B, T, T) float32, the head mean of ReLU(d score / d A ⊙ A) (gradrollout).
        attention_tokens: how the attention's T tokens map onto the patch grid.
        task_inputs: (B, D) float32, a segmentation or detection batch's target rows (a detection's candidate fixed to
            the one matched on the unmodified image), for methods that run the model again; None for a classifier.
    """

    inputs: np.ndarray
    activations: np.ndarray
    gradients: np.ndarray
    targets: np.ndarray
    class_probabilities: ClassProbabilities
    batch_size: int
    attention: np.ndarray | None = None
    gradient_attention: np.ndarray | None = None
    attention_tokens: TokenLayout | None = None
    task_inputs: np.ndarray | None = None

    def probabilities_about(self, index: int, inputs: np.ndarray) -> np.ndarray:
        """(N, num_classes) probabilities of N inputs made from image ``index``, about that image's target.

        A classifier's probabilities need nothing more; a segmenter's are about the image's target pixels and a
        detector's about its fixed candidate: the same row reduction the gradient methods differentiate.
        """
        if self.task_inputs is None:
            return self.class_probabilities(inputs)
        return self.class_probabilities(inputs, np.repeat(self.task_inputs[index : index + 1], len(inputs), axis=0))


class CamMethod:
    """Base: the map is the channel-weighted sum of activations, sum_k w_k A_k (Grad-CAM's shape)."""

    name = ""
    uses_gradients = True
    uses_attention = False
    class_specific = True
    """False for a method that gives every class the same map (it cannot be class-discriminative)."""

    def channel_weights(self, activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
        """(B, K) weights; overridden by each weighting method."""
        raise NotImplementedError

    def raw_map(self, activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
        weights = self.channel_weights(activations, gradients)
        return cast(np.ndarray, np.einsum("bhwk,bk->bhw", activations, weights))

    def raw_maps(self, batch: CamBatch) -> np.ndarray:
        """(B, h, w) maps of one batch: what the engine calls for every method.

        The default needs only activations and gradients; a method that must run the model again
        (Score-CAM) overrides this and uses ``batch.class_probabilities``.
        """
        return self.raw_map(batch.activations, batch.gradients)


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
    class_specific = False

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
    """Wang et al. 2020, weighted as the authors' code does (haofanwang/Score-CAM, ``cam/scorecam.py``):
    w_k = softmax over classes of the model's output on the input masked by M_k, at the target class,
    where M_k is A_k bilinearly upsampled to the input and min-max normalised to [0, 1]. A constant
    channel carries no location, so it is skipped (weight 0), as there.

    Why this weighting: the target's probability is class-discriminative, since raising one class's
    probability lowers the others'. The weighting before it softmaxed those probabilities over channels;
    they lie in [0, 1], so weights differed by at most a factor e and every class got nearly the same map.
    Class-0 vs class-1 Pearson correlation of the layer-resolution heatmaps on the 24 images of
    specs/stripes_honest.yaml (models/stripes_honest.keras): softmax over channels of the probability
    (the old weighting) 0.96 to 1.00; this weighting −0.86 to +0.19; pytorch-grad-cam's softmax over
    channels of the target *logit* −0.86 to +0.50; the paper's increase over a black baseline,
    p_c(X ∘ M_k) − p_c(0), leaves one of the two classes with no positive evidence (an all-negative map)
    on 23 of the 24 images. ``tests/engine/test_scorecam_discriminative.py`` pins the check.
    The weight is always a probability, whatever ``score`` the engine was asked for: that is the
    method's definition; ``score`` chooses what the gradient methods differentiate.
    For a segmentation or detection model the probability is the task head's (core/engine/targets.py), the same
    reduction the gradient methods and the causal checks use: the class's mean softmax over the target pixels, or the
    softmax of the class logits of the candidate matched on the unmodified image (kept fixed on every masked input).
    """

    name = "scorecam"
    uses_gradients = False

    def raw_map(self, activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
        raise ModelError("Score-CAM runs the model on masked inputs; call raw_maps with a CamBatch")

    def raw_maps(self, batch: CamBatch) -> np.ndarray:
        return cast(np.ndarray, np.einsum("bhwk,bk->bhw", batch.activations, self.masked_probabilities(batch)))

    @staticmethod
    def masked_probabilities(batch: CamBatch) -> np.ndarray:
        """(B, K) probability of each image's target on the input masked by each channel (0 for a constant channel)."""
        count, feature_height, feature_width, channels = batch.activations.shape
        input_height, input_width = batch.inputs.shape[1], batch.inputs.shape[2]
        rows = interpolation_matrix(input_height, 1.0, 0.0, input_height, feature_height)
        columns = interpolation_matrix(input_width, 1.0, 0.0, input_width, feature_width)
        result = np.zeros((count, channels), dtype=np.float64)
        for index in range(count):
            activations = batch.activations[index]
            target = int(batch.targets[index])
            varying = np.flatnonzero(_varies(activations.reshape(-1, channels), axis=0))
            for start in range(0, len(varying), batch.batch_size):
                # Upsample and normalise one chunk of channels at a time: all K channels at input size in
                # float64 would take ~0.8 GB for K=2048 at 224×224. Normalisation is per channel, so chunks agree.
                chunk = varying[start : start + batch.batch_size]
                upsampled = np.einsum("Hh,hwk,Ww->HWk", rows, activations[:, :, chunk], columns)
                masks = normalise_channel_masks(upsampled).transpose(2, 0, 1)
                masked = (batch.inputs[index][np.newaxis] * masks[..., np.newaxis]).astype(np.float32)
                result[index, chunk] = batch.probabilities_about(index, masked)[:, target]
        return result


def readout_vectors(count: int, tokens: TokenLayout) -> np.ndarray:
    """(B, T) the tokens the prediction reads: the class token (token 0) when there is a prefix, else every
    token equally (a mean-pooled head)."""
    vectors = np.zeros((count, tokens.sequence_length), dtype=np.float64)
    if tokens.prefix_tokens > 0:
        vectors[:, 0] = 1.0
    else:
        vectors[:] = 1.0 / tokens.sequence_length
    return vectors


def _propagate(vectors: np.ndarray, matrices: np.ndarray, tokens: TokenLayout, *, renormalise: bool) -> np.ndarray:
    """(B, h, w) patch columns of v^T M_L ⋯ M_1 with M_l = A_l + I (rows renormalised to sum 1 when
    ``renormalise``), for (L, B, T, T) matrices A_l in call order.

    Only the readout row of the product is needed, so it is carried as a vector from the last layer down:
    L batched vector-matrix products instead of L matrix products, and M_l is never materialised:
    v^T D⁻¹(A + I) = (v/d)^T A + (v/d) with d the row sums of A + I.
    """
    for layer_matrix in matrices[::-1]:
        matrix = np.asarray(layer_matrix, dtype=np.float64)  # one layer at a time: the engine hands float32
        scaled = vectors / (matrix.sum(axis=-1) + 1.0) if renormalise else vectors
        vectors = np.matmul(scaled[:, np.newaxis, :], matrix)[:, 0, :] + scaled
    rows, columns = tokens.grid
    return vectors[:, tokens.prefix_tokens :].reshape(len(vectors), rows, columns)


def _require_attention(batch: CamBatch, name: str) -> tuple[np.ndarray, TokenLayout]:
    if batch.attention is None or batch.attention_tokens is None:
        raise ModelError(f"{name} needs the attention of keras.layers.MultiHeadAttention layers; the engine recorded none")
    return batch.attention, batch.attention_tokens


class Rollout(CamMethod):
    """Attention rollout (Abnar & Zuidema 2020): per layer Ã = rownorm(mean_heads(A) + I), R = Ã_L ⋯ Ã_1;
    the map is the readout token's row of R over the patch tokens. Not class-specific."""

    name = "rollout"
    uses_gradients = False
    uses_attention = True
    class_specific = False

    def raw_maps(self, batch: CamBatch) -> np.ndarray:
        attention, tokens = _require_attention(batch, self.name)
        return _propagate(readout_vectors(attention.shape[1], tokens), attention, tokens, renormalise=True)


class GradRollout(CamMethod):
    """Chefer et al. 2021 (ICCV, "Generic attention-model explainability"), self-attention rule:
    Ā = mean_heads(ReLU(∇A ⊙ A)), R ← R + Ā R from R = I, i.e. R = (I + Ā_L) ⋯ (I + Ā_1); the map is the
    readout token's row of R over the patch tokens, for the target class."""

    name = "gradrollout"
    uses_gradients = True
    uses_attention = True

    def raw_maps(self, batch: CamBatch) -> np.ndarray:
        _, tokens = _require_attention(batch, self.name)
        if batch.gradient_attention is None:
            raise ModelError("gradrollout needs the gradients of the attention probabilities; the engine recorded none")
        weighted = batch.gradient_attention
        return _propagate(readout_vectors(weighted.shape[1], tokens), weighted, tokens, renormalise=False)


METHODS: dict[str, Callable[[], CamMethod]] = {
    method.name: method
    for method in (GradCam, GradCamPlusPlus, HiResCam, XGradCam, LayerCam, ScoreCam, EigenCam, Rollout, GradRollout)
}


# The CAM methods' only list: the spec loader, its schema, the CLI and the plugin read their names from here.
METHOD_NAMES: tuple[str, ...] = tuple(METHODS)


def get_method(name: str) -> CamMethod:
    try:
        return METHODS[name.lower()]()
    except KeyError:
        raise ModelError(f"unknown CAM method {name!r}; choose one of {', '.join(METHODS)}") from None


def _varies(values: np.ndarray, axis: int | tuple[int, ...]) -> np.ndarray:
    """Whether the values along ``axis`` are not all equal, relative to their size (min-max normalisation is scale-free)."""
    minimum = values.min(axis=axis)
    maximum = values.max(axis=axis)
    magnitude = np.maximum(np.abs(minimum), np.abs(maximum))
    return cast(np.ndarray, (maximum - minimum) > _EPSILON * magnitude)


def normalise_channel_masks(activations: np.ndarray) -> np.ndarray:
    """Score-CAM's masks: each channel of an (H, W, K) map min-max normalised to [0, 1] (constant channels become 0)."""
    minimum = activations.min(axis=(0, 1), keepdims=True)
    maximum = activations.max(axis=(0, 1), keepdims=True)
    spread = maximum - minimum
    varies = _varies(activations, axis=(0, 1))[np.newaxis, np.newaxis]
    return cast(np.ndarray, np.divide(activations - minimum, spread, out=np.zeros_like(activations), where=varies))
