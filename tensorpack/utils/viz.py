"""Visualization helpers: grids of image patches, boxes with labels, an interactive viewer.

The grid functions need only NumPy. Drawing, saving and showing images use OpenCV
(``pip install opencv-python-headless``), imported when first needed;
:func:`interactive_imshow` also needs a display.
"""
import os
import sys

import numpy as np

from .fs import mkdir_p

__all__ = ["interactive_imshow", "stack_patches", "gen_stack_patches", "dump_dataflow_images",
           "intensity_to_rgb", "draw_boxes"]


def _cv2(what):
    try:
        import cv2
    except ImportError as e:
        raise ImportError("{} needs OpenCV: pip install opencv-python-headless".format(
            what)) from e
    return cv2


def _has_display():
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def interactive_imshow(img, lclick_cb=None, rclick_cb=None, **kwargs):
    """Show an image in a window and wait for a key.

    Keys: ``q`` closes the window, ``x`` exits the program, ``s`` saves ``out.png``,
    ``+`` / ``-`` zoom. ``key_cb_<k>=func(img)`` in ``kwargs`` handles key ``k``.

    Args:
        img (np.ndarray): a BGR image.
        lclick_cb, rclick_cb: ``func(img, x, y)`` called on a left / right click.

    Raises:
        RuntimeError: without a display (e.g. over ssh without X forwarding).
        ImportError: without OpenCV.
    """
    if not _has_display():
        raise RuntimeError("interactive_imshow needs a display (DISPLAY is not set); save the "
                           "image with cv2.imwrite instead.")
    cv2 = _cv2("interactive_imshow")
    window = "tensorpack_viz_window"
    cv2.imshow(window, img)

    def on_mouse(event, x, y, *args):
        if event == cv2.EVENT_LBUTTONUP and lclick_cb is not None:
            lclick_cb(img, x, y)
        elif event == cv2.EVENT_RBUTTONUP and rclick_cb is not None:
            rclick_cb(img, x, y)

    cv2.setMouseCallback(window, on_mouse)
    key = cv2.waitKey(-1)
    while key >= 128:
        key = cv2.waitKey(-1)
    key = chr(key & 0xff)
    handler = kwargs.get("key_cb_" + key)
    if handler is not None:
        handler(img)
    elif key == "q":
        cv2.destroyWindow(window)
    elif key == "x":
        sys.exit()
    elif key == "s":
        cv2.imwrite("out.png", img)
    elif key in "+=-":
        factor = 0.7 if key == "-" else 1.3
        img = cv2.resize(img, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
        interactive_imshow(img, lclick_cb, rclick_cb, **kwargs)


def _as_nhwc(patches):
    arr = np.asarray(patches)
    if arr.dtype == object:
        raise ValueError("stack_patches: patches of different shapes; use pad=True.")
    if arr.ndim == 3:
        arr = arr[..., np.newaxis]
    if arr.ndim != 4 or arr.shape[3] not in (1, 3):
        raise ValueError("stack_patches: expected NHW or NHWC (C = 1 or 3) patches, got shape "
                         "{}.".format(arr.shape))
    return arr


def _pad_to_same_size(patches, bgcolor):
    """Center every patch on a background of the largest height and width (3 channels)."""
    color = (bgcolor,) * 3 if isinstance(bgcolor, int) else tuple(bgcolor)
    rgb = []
    for p in patches:
        p = np.asarray(p)
        if p.ndim == 2:
            p = p[..., np.newaxis]
        if p.shape[2] == 1:
            p = np.repeat(p, 3, axis=2)
        rgb.append(p)
    h = max(p.shape[0] for p in rgb)
    w = max(p.shape[1] for p in rgb)
    out = np.empty((len(rgb), h, w, 3), dtype=rgb[0].dtype)
    out[...] = color
    for i, p in enumerate(rgb):
        top, left = (h - p.shape[0]) // 2, (w - p.shape[1]) // 2
        out[i, top:top + p.shape[0], left:left + p.shape[1]] = p
    return out


class _Grid:
    """A canvas of ``rows x cols`` cells of ``ph x pw`` pixels separated by ``border``."""

    def __init__(self, ph, pw, rows, cols, channels, border, bgcolor):
        self.ph, self.pw, self.rows, self.cols = ph, pw, rows, cols
        self.border = int(0.05 * min(ph, pw)) if border is None else border
        self.bgcolor = bgcolor
        channels = max(channels, 1 if isinstance(bgcolor, int) else 3)
        self.canvas = np.zeros((rows * (ph + self.border) - self.border,
                                cols * (pw + self.border) - self.border, channels), "uint8")

    def draw(self, patches):
        if len(patches) > self.rows * self.cols:
            raise ValueError("{} patches do not fit in a {}x{} grid.".format(
                len(patches), self.rows, self.cols))
        if self.canvas.shape[2] == 3 and patches.shape[3] == 1:
            patches = np.repeat(patches, 3, axis=3)
        self.canvas[...] = self.bgcolor
        for i, patch in enumerate(patches):
            r, c = divmod(i, self.cols)
            y, x = r * (self.ph + self.border), c * (self.pw + self.border)
            self.canvas[y:y + self.ph, x:x + self.pw] = patch
        return self.canvas

    def index_at(self, x, y):
        return (y // (self.ph + self.border)) * self.cols + x // (self.pw + self.border)


def stack_patches(patch_list, nr_row, nr_col, border=None, pad=False, bgcolor=255, viz=False,
                  lclick_cb=None):
    """Arrange images in a grid (e.g. to look at generated samples).

    Args:
        patch_list (list[np.ndarray] or np.ndarray): NHW or NHWC images in [0, 255].
        nr_row (int), nr_col (int): the grid; it must have room for all patches.
        border (int): pixels between patches; 5% of the smaller patch side by default.
        pad (bool): allow patches of different sizes, centred on the background.
        bgcolor (int or tuple): background gray level, or a BGR color.
        viz (bool): also show the result with :func:`interactive_imshow`.
        lclick_cb: ``func(patch, index)`` called when a patch is clicked (implies ``viz``).

    Returns:
        np.ndarray: the grid image (uint8, HWC).
    """
    if pad:
        patch_list = _pad_to_same_size(patch_list, bgcolor)
    patches = _as_nhwc(patch_list)
    grid = _Grid(patches.shape[1], patches.shape[2], nr_row, nr_col, patches.shape[3], border,
                 bgcolor)
    image = grid.draw(patches)
    if viz or lclick_cb is not None:
        on_click = None
        if lclick_cb is not None:
            def on_click(img, x, y):
                idx = grid.index_at(x, y)
                if idx < len(patches):
                    lclick_cb(patches[idx], idx)
        interactive_imshow(image, lclick_cb=on_click)
    return image


def gen_stack_patches(patch_list, nr_row=None, nr_col=None, border=None, max_width=1000,
                      max_height=1000, bgcolor=255, viz=False, lclick_cb=None):
    """Like :func:`stack_patches` for a long list: yields one grid after another.

    Args:
        nr_row (int), nr_col (int): the grid of each result; when None, as many as fit in
            ``max_height`` / ``max_width`` pixels.
        patch_list, border, bgcolor, viz, lclick_cb: as in :func:`stack_patches`.

    Yields:
        np.ndarray: a grid image (the same buffer, redrawn: copy it to keep it).
    """
    patches = _as_nhwc(patch_list)
    ph, pw = patches.shape[1:3]
    if border is None:
        border = int(0.05 * min(ph, pw))
    nr_row = int(max_height / (ph + border)) if nr_row is None else nr_row
    nr_col = int(max_width / (pw + border)) if nr_col is None else nr_col
    grid = _Grid(ph, pw, nr_row, nr_col, patches.shape[3], border, bgcolor)
    per_grid = nr_row * nr_col
    for start in range(0, len(patches), per_grid):
        chunk = patches[start:start + per_grid]
        image = grid.draw(chunk)
        if viz or lclick_cb is not None:
            on_click = None
            if lclick_cb is not None:
                def on_click(img, x, y, start=start, n=len(chunk)):
                    idx = grid.index_at(x, y)
                    if idx < n:
                        lclick_cb(patches[start + idx], start + idx)
            interactive_imshow(image, lclick_cb=on_click)
        yield image


def dump_dataflow_images(df, index=0, batched=True, number=1000, output_dir=None, scale=1,
                         resize=None, viz=None, flipRGB=False):  # noqa: N803 (upstream's name)
    """Save and/or show images taken from a DataFlow.

    Args:
        df (DataFlow): the data.
        index (int): which component of a datapoint holds the image(s).
        batched (bool): the component is a batch (NHW / NHWC) rather than one image.
        number (int): stop after this many images.
        output_dir (str): save them there as ``001.jpg``, ``002.jpg``, ...
        scale (float): multiply pixel values by it.
        resize (int or (h, w)): resize each image.
        viz (int or (rows, cols)): show grids of that size.
        flipRGB (bool): swap RGB and BGR.
    """
    def pair(v):
        return (int(v), int(v)) if isinstance(v, (int, np.integer)) else tuple(int(x) for x in v)

    cv2 = _cv2("dump_dataflow_images") if (output_dir or resize is not None) else None
    if output_dir:
        mkdir_p(output_dir)
    grid = pair(viz) if viz is not None else None
    shown = []
    count = 0
    df.reset_state()
    while True:
        for dp in df:
            for img in (dp[index] if batched else [dp[index]]):
                count += 1
                if count == number:
                    return
                if scale != 1:
                    img = img * scale
                if resize is not None:
                    h, w = pair(resize)
                    img = cv2.resize(img, (w, h))
                if flipRGB:
                    img = img[:, :, ::-1]
                if output_dir:
                    cv2.imwrite(os.path.join(output_dir, "{:03d}.jpg".format(count)), img)
                if grid is not None:
                    shown.append(img)
            if grid is not None and len(shown) >= grid[0] * grid[1]:
                n = grid[0] * grid[1]
                stack_patches(shown[:n], nr_row=grid[0], nr_col=grid[1], viz=True)
                shown = shown[n:]


def intensity_to_rgb(intensity, cmap="cubehelix", normalize=False):
    """Color a 2-D intensity map (e.g. saliency) with a matplotlib colormap.

    Args:
        intensity (np.ndarray): HxW values in [0, 1] (or any range with ``normalize``).
        cmap (str): a matplotlib colormap name.
        normalize (bool): rescale the values to [0, 1] first.

    Returns:
        np.ndarray: HxWx3 float32 RGB image in [0, 255].

    Raises:
        ImportError: without matplotlib.
        ValueError: if ``intensity`` is not 2-D.
    """
    try:
        from matplotlib import colormaps
    except ImportError as e:
        raise ImportError("intensity_to_rgb needs matplotlib: pip install matplotlib") from e
    if intensity.ndim != 2:
        raise ValueError("intensity_to_rgb takes a 2-D array, got shape {}.".format(
            intensity.shape))
    values = intensity.astype("float64")
    if normalize:
        values = values - values.min()
        values = values / values.max()
    return colormaps[cmap](values)[..., :3].astype("float32") * 255.0


def draw_text(img, pos, text, color, font_scale=0.4):
    """Write text on a filled background box.

    Args:
        img (np.ndarray): the image (converted to uint8; the result is a new array).
        pos (tuple): (x, y) of the text's bottom-left corner.
        text (str): the text.
        color (tuple): BGR background color.
        font_scale (float): font size.

    Returns:
        np.ndarray: the image with the text.
    """
    cv2 = _cv2("draw_text")
    img = img.astype(np.uint8)
    x, y = int(pos[0]), int(pos[1])
    font = cv2.FONT_HERSHEY_SIMPLEX
    (tw, th), _ = cv2.getTextSize(text, font, font_scale, 1)
    x = min(x, img.shape[1] - tw)
    y = max(y, int(1.15 * th))
    cv2.rectangle(img, (x, y - int(1.3 * th)), (x + tw, y), color, -1)
    cv2.putText(img, text, (x, y - int(0.25 * th)), font, font_scale, (222, 222, 222),
                lineType=cv2.LINE_AA)
    return img


def draw_boxes(im, boxes, labels=None, color=None):
    """Draw boxes (largest first) with optional labels on a copy of an image.

    Args:
        im (np.ndarray): a BGR (or gray) image in [0, 255]; not modified.
        boxes (np.ndarray): Nx4, rows ``[x1, y1, x2, y2]`` inside the image.
        labels (list[str]): one label per box.
        color (tuple): BGR color; green by default.

    Returns:
        np.ndarray: a new BGR image.

    Raises:
        ValueError: for boxes outside the image, empty boxes, or a wrong number of labels.
    """
    cv2 = _cv2("draw_boxes")
    boxes = np.asarray(boxes, dtype="int32").reshape(-1, 4)
    if labels is not None and len(labels) != len(boxes):
        raise ValueError("draw_boxes: {} labels for {} boxes.".format(len(labels), len(boxes)))
    if len(boxes) == 0:
        return im.copy()
    areas = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
    if areas.min() <= 0:
        raise ValueError("draw_boxes: boxes must have x2 >= x1 and y2 >= y1:\n{}".format(boxes))
    if boxes[:, :2].min() < 0 or boxes[:, 2].max() > im.shape[1] or \
            boxes[:, 3].max() > im.shape[0]:
        raise ValueError("draw_boxes: boxes outside the image of shape {}:\n{}".format(
            im.shape, boxes))
    im = im.copy()
    color = (15, 128, 15) if color is None else color
    if im.ndim == 2 or (im.ndim == 3 and im.shape[2] == 1):
        im = cv2.cvtColor(im, cv2.COLOR_GRAY2BGR)
    for i in np.argsort(-areas):
        x1, y1, x2, y2 = (int(v) for v in boxes[i])
        if labels is not None:
            im = draw_text(im, (x1, y1), labels[i], color=color)
        cv2.rectangle(im, (x1, y1), (x2, y2), color=color, thickness=1)
    return im
