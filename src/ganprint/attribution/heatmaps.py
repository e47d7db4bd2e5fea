"""Where did the attributor look? Class activation heatmaps (seed 003).

Two methods, one output:

* **CAM** (Zhou et al. 2016) for models whose head is one ``Linear`` layer right after global
  average pooling: the map of class ``k`` is ``sum_c w[k, c] * A[c]`` over the last feature map
  ``A`` (C, h, w). Exact, needs no gradient, so it also runs under ``torch.inference_mode``.
* **Grad-CAM** (Selvaraju et al. 2017) for any other model: ``ReLU(sum_c a_c * A[c])`` where
  ``a_c`` is the spatial mean of ``d logit_k / d A[c]``. For a GAP + linear head ``a_c = w[k, c] / (h w)``,
  so Grad-CAM equals CAM up to the normalisation below.

Model contract. A model may expose ``cam_target`` (the module whose output is the last spatial
feature map, (N, C, h, w)) and ``cam_weights()`` (the (num_classes, C) weight of a linear head
applied right after global average pooling, or None when the head is anything else). Without
``cam_target`` the last ``nn.Conv2d`` of the model is used; without ``cam_weights`` Grad-CAM is used.

Every map is passed through ReLU (positive evidence for the class), upsampled bilinearly to the
input's height and width, and divided by its maximum, so it lies in [0, 1] (an all-zero map stays
zero: nothing in the image spoke for that class).

For a model whose input ``transform`` is a DCT, the feature map's positions are *frequencies*, not
pixel positions: the returned map is then over DCT coefficients (low frequencies top left), still
resized to the input size so that shapes line up, and an overlay on the image must be read that way.

Pictures: :func:`overlay` blends a map over its image; :func:`explained_overlay` (what
:func:`save_overlay` writes by default) adds a caption with the explained class and its probability
and a colour bar, so that a PNG found on its own still says what it shows.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont
from torch import nn

from ganprint.attribution.training import as_float_images

__all__ = ["CAM_METHODS", "class_activation_maps", "explained_overlay", "find_cam_target", "overlay", "save_overlay"]

CAM_METHODS = ("auto", "cam", "gradcam")

DEFAULT_VIEW_SIDE = 224
"""``save_overlay`` enlarges images whose longer side is shorter than this (28 px -> 224 px)."""


def find_cam_target(model: nn.Module) -> nn.Module:
    """The module whose output is the heatmap's feature map: ``model.cam_target`` when the model
    declares one, else its last ``nn.Conv2d`` (in registration order)."""
    target = getattr(model, "cam_target", None)
    if isinstance(target, nn.Module):
        return target
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"{type(model).__name__} has no cam_target and no Conv2d layer: no spatial feature map "
                         "to draw a heatmap from")
    return convs[-1]


def _cam_weights(model: nn.Module) -> torch.Tensor | None:
    fn = getattr(model, "cam_weights", None)
    return fn() if callable(fn) else None


def class_activation_maps(
    model: nn.Module,
    x: torch.Tensor,
    target: int | Sequence[int] | torch.Tensor | None = None,
    method: str = "auto",
    *,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    batch_size: int = 64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Heatmaps of ``model`` for images ``x`` (N, C, H, W).

    Args:
        model: A classifier returning logits (N, num_classes). It is run in eval mode; its
            train/eval mode, parameters and their ``.grad`` are left as they were.
        x: uint8 images (scaled to [0, 1], as the attributor does) or float model input.
        target: The class to explain: one index for all images, one per image, or None for the
            predicted class.
        method: ``"cam"``, ``"gradcam"``, or ``"auto"`` (CAM when ``model.cam_weights()`` is not
            None, else Grad-CAM).
        transform: Applied to the float images before the model (e.g. the DCT input
            representation); the maps are then over the transform's output grid (see module doc).
        batch_size: Images per forward pass.

    Returns:
        ``(maps, targets)``: float maps (N, H, W) in [0, 1] at the input's size, on ``x``'s device,
        and the explained class index per image (N,) int64.
    """
    if method not in CAM_METHODS:
        raise ValueError(f"method must be one of {CAM_METHODS}, got {method!r}")
    if x.ndim != 4:
        raise ValueError(f"expected images (N, C, H, W), got shape {tuple(x.shape)}")
    weights = _cam_weights(model)
    if method == "auto":
        method = "cam" if weights is not None else "gradcam"
    if method == "cam" and weights is None:
        raise ValueError(f"{type(model).__name__} has no cam_weights() (its head is not GAP + linear): "
                         "use method='gradcam' or 'auto'")
    n = len(x)
    targets = _as_targets(target, n)
    param = next(model.parameters(), None)
    device = param.device if param is not None else x.device
    maps, chosen = [], []
    modes = [(m, m.training) for m in model.modules()]  # restored one by one: modes may be mixed
    module = find_cam_target(model)
    captured: list[torch.Tensor] = []

    def hook(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        if not isinstance(output, torch.Tensor) or output.ndim != 4:
            raise ValueError(f"the heatmap layer {type(_module).__name__} must output (N, C, h, w), "
                             f"got {getattr(output, 'shape', type(output))}")
        captured.append(output)
        # a clone goes on, so that a later in-place op (ReLU(inplace=True)) cannot overwrite the capture
        return output.clone()

    handle = module.register_forward_hook(hook)
    try:
        model.eval()
        for start in range(0, n, batch_size):
            xb = as_float_images(x[start:start + batch_size].to(device))
            tb = None if targets is None else targets[start:start + batch_size].to(device)
            captured.clear()
            if method == "cam":
                with torch.no_grad():
                    cam, tb = _cam(model, xb, tb, transform, captured, weights)
            else:
                with torch.enable_grad():
                    cam, tb = _gradcam(model, xb, tb, transform, captured)
            maps.append(_finish(cam, x.shape[-2:]).to(x.device))
            chosen.append(tb.to(x.device))
    finally:
        handle.remove()
        for m, training in modes:
            m.training = training
    if not maps:
        return x.new_zeros((0, *x.shape[-2:]), dtype=torch.float32), torch.zeros(0, dtype=torch.long, device=x.device)
    return torch.cat(maps), torch.cat(chosen)


def _as_targets(target: int | Sequence[int] | torch.Tensor | None, n: int) -> torch.Tensor | None:
    if target is None:
        return None
    t = torch.as_tensor(target, dtype=torch.long).flatten().cpu()
    if t.numel() == 1:
        t = t.expand(n)
    if t.numel() != n:
        raise ValueError(f"target must be one class index or one per image ({n}), got {t.numel()}")
    return t


def _forward(model: nn.Module, xb: torch.Tensor, transform: Callable[[torch.Tensor], torch.Tensor] | None,
             captured: list[torch.Tensor], targets: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    logits = model(transform(xb) if transform is not None else xb)
    if not captured:
        raise RuntimeError("the heatmap layer was not run by the model's forward pass")
    if targets is None:
        targets = logits.argmax(1)
    elif targets.numel() and (int(targets.min()) < 0 or int(targets.max()) >= logits.shape[1]):
        raise ValueError(f"target class out of range for a model with {logits.shape[1]} classes")
    return logits, targets


def _cam(model: nn.Module, xb: torch.Tensor, targets: torch.Tensor | None, transform, captured,
         weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    _, targets = _forward(model, xb, transform, captured, targets)
    feats = captured[-1].float()
    w = weights.detach().to(feats.device, torch.float32)
    if w.ndim != 2 or w.shape[1] != feats.shape[1]:
        raise ValueError(f"cam_weights() of shape {tuple(w.shape)} does not match a feature map of "
                         f"{feats.shape[1]} channels")
    return torch.einsum("nc,nchw->nhw", w[targets], feats), targets


def _gradcam(model: nn.Module, xb: torch.Tensor, targets: torch.Tensor | None, transform,
             captured) -> tuple[torch.Tensor, torch.Tensor]:
    # the input requires grad so that the graph exists even when every parameter is frozen
    logits, targets = _forward(model, xb.detach().requires_grad_(True), transform, captured, targets)
    feats = captured[-1]
    score = logits.gather(1, targets[:, None]).sum()  # images are independent in eval mode
    # autograd.grad with inputs=feats only: no parameter's .grad is touched
    (grads,) = torch.autograd.grad(score, feats)
    alpha = grads.float().mean((2, 3), keepdim=True)
    return (alpha * feats.detach().float()).sum(1), targets


def _finish(cam: torch.Tensor, size: torch.Size) -> torch.Tensor:
    """ReLU, bilinear upsampling to ``size``, division by each map's maximum."""
    cam = F.interpolate(cam.relu()[:, None], size=tuple(size), mode="bilinear", align_corners=False)[:, 0]
    peak = cam.flatten(1).amax(1).clamp_min(torch.finfo(cam.dtype).tiny)
    return (cam / peak[:, None, None]).clamp_(0, 1)


# -- pictures ------------------------------------------------------------------------------------

def _as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] in (1, 3, 4):
        image = image[..., :3] if image.shape[2] != 1 else image[..., 0]
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an image (H, W) or (H, W, 1|3|4), got shape {image.shape}")
    return image


def _resize_map(heatmap: np.ndarray, height: int, width: int) -> np.ndarray:
    if heatmap.shape == (height, width):
        return heatmap
    plane = Image.fromarray(np.ascontiguousarray(heatmap, dtype=np.float32))
    resized = plane.resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.float32)


def overlay(image: np.ndarray, heatmap: np.ndarray | torch.Tensor, alpha: float = 0.5,
            cmap: str = "jet") -> np.ndarray:
    """Blend a heatmap in [0, 1] (H, W) over a uint8 image (H, W) or (H, W, C): uint8 RGB (H, W, 3).

    A heatmap of another size is resized bilinearly to the image. ``alpha`` is the heatmap's weight.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    rgb = _as_rgb(image)
    heat = heatmap.detach().float().cpu().numpy() if isinstance(heatmap, torch.Tensor) else np.asarray(heatmap)
    if heat.ndim != 2:
        raise ValueError(f"expected a heatmap (H, W), got shape {heat.shape}")
    heat = np.clip(np.nan_to_num(_resize_map(heat.astype(np.float32), *rgb.shape[:2])), 0.0, 1.0)
    colours = matplotlib.colormaps[cmap](heat)[..., :3] * 255.0
    blended = (1.0 - alpha) * rgb.astype(np.float32) + alpha * colours
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def explained_overlay(image: np.ndarray, heatmap: np.ndarray | torch.Tensor, *, label: str | None = None,
                      probability: float | None = None, note: str | None = None, alpha: float = 0.5,
                      cmap: str = "jet") -> np.ndarray:
    """The overlay of ``heatmap`` on ``image`` with what it needs to be read on its own: a caption
    (the explained class ``label``, its ``probability`` and an optional ``note``) above it and a colour
    bar (0 = nothing in the image spoke for the class, 1 = the strongest evidence) to its right.

    Drawn with Pillow and matplotlib's colour map and font (no figure, no display): about a
    millisecond per image, so ``predict --heatmaps`` stays at the model's speed. Returns uint8 RGB.
    """
    body = overlay(image, heatmap, alpha=alpha, cmap=cmap)
    height, width = body.shape[:2]
    font = _font(_FONT_SIZE)
    pad, bar_width = 4, 12
    ticks = ((1.0, "1"), (0.5, "0.5"), (0.0, "0"))
    tick_width = max(int(math.ceil(font.getlength(text))) for _, text in ticks)
    caption = [line for line in (_caption(label, probability), note) if line]
    line_height = _FONT_SIZE + 4
    top = pad + line_height * len(caption) + (pad if caption else 0)
    bottom = pad + line_height  # the colour bar's title, under it
    canvas = Image.new("RGB", (width + 3 * pad + bar_width + tick_width, top + height + bottom), "white")
    canvas.paste(Image.fromarray(body), (0, top))
    draw = ImageDraw.Draw(canvas)
    for k, text in enumerate(caption):
        draw.text((pad, pad + k * line_height), _fit(text, font, canvas.width - 2 * pad), fill="black", font=font)
    # the colour bar: the top of the map (1) at the top, as heights read
    levels = np.linspace(1.0, 0.0, height, dtype=np.float32)[:, None].repeat(bar_width, 1)
    bar = (matplotlib.colormaps[cmap](levels)[..., :3] * 255).round().astype(np.uint8)
    x0 = width + pad
    canvas.paste(Image.fromarray(bar), (x0, top))
    draw.rectangle((x0 - 1, top - 1, x0 + bar_width, top + height), outline="black")
    for value, text in ticks:
        y = top + round((1.0 - value) * (height - 1))
        draw.line((x0 + bar_width, y, x0 + bar_width + 2, y), fill="black")
        draw.text((x0 + bar_width + pad, y), text, fill="black", font=font, anchor="lm")
    draw.text((canvas.width - pad, top + height + pad), _fit("evidence for the class", font, canvas.width - 2 * pad),
              fill="black", font=font, anchor="ra")
    return np.asarray(canvas)


_FONT_SIZE = 12


def _caption(label: str | None, probability: float | None) -> str | None:
    if label is None:
        return None
    return label if probability is None else f"{label} (probability {probability:.3f})"


@functools.lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """matplotlib's own DejaVu Sans (always installed with it); Pillow's default font otherwise."""
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    try:
        return ImageFont.truetype(str(path), size)
    except OSError:
        return ImageFont.load_default(size)


def _fit(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> str:
    """``text``, cut with an ellipsis where it would be wider than ``width`` pixels."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


def save_overlay(path: str | Path, image: np.ndarray, heatmap: np.ndarray | torch.Tensor, *,
                 label: str | None = None, probability: float | None = None, note: str | None = None,
                 colorbar: bool = True, upscale: int | None = None, alpha: float = 0.5, cmap: str = "jet") -> Path:
    """Write :func:`overlay_picture` of ``image`` and ``heatmap`` as a PNG and return its path."""
    picture = overlay_picture(image, heatmap, label=label, probability=probability, note=note,
                              colorbar=colorbar, upscale=upscale, alpha=alpha, cmap=cmap)
    path = Path(path)
    Image.fromarray(picture).save(path, format="PNG")
    return path


def overlay_picture(image: np.ndarray, heatmap: np.ndarray | torch.Tensor, *, label: str | None = None,
                    probability: float | None = None, note: str | None = None, colorbar: bool = True,
                    upscale: int | None = None, alpha: float = 0.5, cmap: str = "jet") -> np.ndarray:
    """The overlay of ``heatmap`` on ``image`` as an RGB ``uint8`` array (what :func:`save_overlay`
    writes and the web service sends).

    With ``colorbar`` (the default) the picture explains itself (:func:`explained_overlay`): a
    caption with the explained class ``label``, its ``probability`` and ``note``, and a colour bar;
    without it, and without a label, it is the bare overlay at the upscaled image's size.
    ``upscale`` enlarges image and map by an integer factor first (image: nearest neighbour, so
    pixels stay honest squares; heatmap: bilinear); None picks the smallest factor that brings the
    longer side to ``DEFAULT_VIEW_SIDE`` (28 px -> 224 px), 1 for images already that large.
    """
    rgb = _as_rgb(image)
    height, width = rgb.shape[:2]
    if upscale is None:
        upscale = max(1, math.ceil(DEFAULT_VIEW_SIDE / max(height, width)))
    if int(upscale) < 1:
        raise ValueError(f"upscale must be a positive integer, got {upscale}")
    upscale = int(upscale)
    heat = heatmap.detach().float().cpu().numpy() if isinstance(heatmap, torch.Tensor) else np.asarray(heatmap)
    if upscale > 1:
        size = (width * upscale, height * upscale)
        rgb = np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).resize(size, Image.Resampling.NEAREST))
        heat = _resize_map(heat.astype(np.float32), size[1], size[0])
    if colorbar or label is not None or note is not None:
        return explained_overlay(rgb, heat, label=label, probability=probability, note=note, alpha=alpha, cmap=cmap)
    return overlay(rgb, heat, alpha=alpha, cmap=cmap)
