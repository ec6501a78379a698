"""Share of FLOPs vs share of runtime per operator class in one training step, measured the way Ivanov et al.
2021 ("Data Movement Is All You Need", arXiv 2007.00072) did for a BERT layer: tensor contractions do nearly all
the arithmetic, yet normalisation and element-wise operators, being memory-bound, take a large share of the time.
That gap is why RMSNorm's fewer passes over memory can speed up training while saving almost no FLOPs."""

from __future__ import annotations

import contextlib
import math
import os
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch
import torch.nn.functional as F
from torch.autograd.profiler_util import FunctionEvent
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

from ablations.declare.presets import Preset
from ablations.declare.spec import Ablation
from ablations.reporting.markdown import markdown_table
from ablations.runs.resolve import model_config
from ablations.training.device import device_name
from models import ModelConfig, Transformer

CLASSES = ("tensor contraction", "normalisation", "softmax", "element-wise", "other")
WARMUP_STEPS = 2  # after the FLOP-counting step: allocator, thread pool and kernel selection settle
REPEATS = 5

# Forward FLOPs per element of an operator's largest input, for the classes FlopCounterMode does not count.
FORWARD_FLOPS_PER_ELEMENT = {
    "normalisation": 5,  # LayerNorm: mean, centre, square-and-sum, scale by 1/σ, gain (RMSNorm skips the centring)
    "softmax": 5,  # max, subtract, exp, sum, divide (log-softmax takes a log instead of the divide)
    "element-wise": 1,  # one add, multiply, copy or activation per element (GELU's erf costs more: a lower bound)
    "other": 0,  # embedding look-ups, views and the loss's gather move data without arithmetic
}
BACKWARD_FLOP_RATIO = 2  # backward ≈ twice the forward, as for matmuls: gradients of the inputs and of the weights

# Ivanov et al. 2021, one BERT encoder layer (REFERENCES.md); that their "statistical normalisation"
# also holds softmax is unverified.
IVANOV_BERT = {"tensor contraction": (99.80, 61.0), "normalisation": (0.17, 25.5), "element-wise": (0.03, 13.5)}

_CONTRACTIONS = {"mm", "addmm", "bmm", "baddbmm", "matmul", "linear", "einsum", "_scaled_mm"}
_NORMALISATIONS = ("layer_norm", "rms_norm", "group_norm", "batch_norm")
_ELEMENT_WISE = {"add", "sub", "rsub", "mul", "div", "neg", "pow", "sqrt", "rsqrt", "exp", "log", "tanh", "sigmoid",
                 "gelu", "silu", "relu", "threshold", "square", "where", "masked_fill", "clamp", "copy", "fill", "zero",
                 "dropout", "native_dropout"}

# FlopCounterMode knows SDPA's CUDA kernels but not the CPU flash kernel, whose arguments start alike
# (q, k, v / grad_out, q, k, v). Like torch's own formula, these count the full T² scores, causal or not.
_CPU_ATTENTION_FLOPS = {
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: lambda q, k, v, *_, **__: sdpa_flop_count(q, k, v),
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward:
        lambda grad_out, q, k, v, *_, **__: sdpa_backward_flop_count(grad_out, q, k, v),
}


def classify(name: str) -> str:
    """The class of one aten operator by its name alone (`aten::native_layer_norm_backward` → normalisation).

    SDPA kernels are contractions: their fused softmax runs inside the same kernel and cannot be timed apart.
    """
    op = name.removeprefix("aten::")
    if op in _CONTRACTIONS or "attention" in op:
        return "tensor contraction"
    if any(norm in op for norm in _NORMALISATIONS):
        return "normalisation"
    if "softmax" in op:
        return "softmax"
    if op.removesuffix("_backward").removesuffix("_") in _ELEMENT_WISE:
        return "element-wise"
    return "other"


def _scope_class(event: FunctionEvent | None) -> str:
    """The class of the outermost classified aten operator around an event, itself included, so a composite's
    internals count with it: linear's transpose, and on CPU RMSNorm's pow, mean, rsqrt and mul."""
    found = "other"
    while event is not None:
        if event.name.startswith("aten::") and classify(event.name) != "other":
            found = classify(event.name)
        event = event.cpu_parent
    return found


def _autograd_node(event: FunctionEvent | None) -> FunctionEvent | None:
    """The autograd node an event runs under in the backward pass; None in the forward pass."""
    while event is not None and not event.name.startswith("autograd::engine::evaluate_function"):
        event = event.cpu_parent
    return event


def _event_classes(events: list[FunctionEvent]) -> dict[int, str]:
    """Class of every event (by id). A backward operator takes the class of the forward operator whose gradient
    it computes, matched by autograd sequence number: a decomposed norm's backward is pow, mul and sum
    ops that name alone would call element-wise."""
    creator: dict[int, FunctionEvent] = {}
    for event in sorted(events, key=lambda e: e.time_range.start):
        # Ops record the counter's current value and only creating a node advances it, so the last op to
        # start with a number is the one that made that node (or sits inside it).
        if event.sequence_nr >= 0 and event.name.startswith("aten::") and _autograd_node(event) is None:
            creator[event.sequence_nr] = event
    classes = {}
    for event in events:
        node = _autograd_node(event)
        known = node is not None and node.sequence_nr in creator
        classes[id(event)] = _scope_class(creator[node.sequence_nr] if known else event)
    return classes


def _elements(event: FunctionEvent) -> int:
    return max((math.prod(shape) for shape in event.input_shapes if shape and isinstance(shape[0], int)), default=0)


def _training_step(model: Transformer, tokens: torch.Tensor) -> None:
    model.zero_grad(set_to_none=True)  # as after an optimiser step: no gradient accumulation to time
    logits = model(tokens[:, :-1])  # (B, T, vocab)
    F.cross_entropy(logits.flatten(0, 1), tokens[:, 1:].flatten()).backward()


def _contraction_flops(model: Transformer, tokens: torch.Tensor) -> int:
    with FlopCounterMode(display=False, custom_mapping=_CPU_ATTENTION_FLOPS) as counter:
        _training_step(model, tokens)
    return counter.get_total_flops()


def _profiled_steps(model: Transformer, tokens: torch.Tensor, repeats: int) -> list[FunctionEvent]:
    on_cuda = tokens.device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if on_cuda else [])
    with _without_kineto_notices(), profile(activities=activities, record_shapes=True) as prof:
        for _ in range(repeats):
            _training_step(model, tokens)
            if on_cuda:
                torch.cuda.synchronize(tokens.device)
    return [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CPU]


@contextlib.contextmanager
def _without_kineto_notices():
    """Kineto's C++ side writes `USDT: … profiler_start/stop` to file descriptor 2 on every start and stop,
    out of Python's reach: capture the descriptor for the profiled block and pass on every other line."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if not line.startswith("USDT:"):
                    sys.stderr.write(line)


def _class_totals(events: list[FunctionEvent], on_cuda: bool) -> tuple[dict[str, float], dict[str, float]]:
    """Estimated FLOPs (non-contraction classes) and self seconds per class, summed over the events."""
    classes = _event_classes(events)
    flops, seconds = dict.fromkeys(CLASSES, 0.0), dict.fromkeys(CLASSES, 0.0)
    for event in (e for e in events if e.name.startswith("aten::")):
        cls = classes[id(event)]
        seconds[cls] += (event.self_device_time_total if on_cuda else event.self_cpu_time_total) / 1e6
        parent = event.cpu_parent
        root = parent is None or classes[id(parent)] != cls  # a composite's internals are in its own count
        if root and cls in FORWARD_FLOPS_PER_ELEMENT and _autograd_node(event) is None:
            flops[cls] += _elements(event) * FORWARD_FLOPS_PER_ELEMENT[cls] * (1 + BACKWARD_FLOP_RATIO)
    return flops, seconds


def operator_shares(config: ModelConfig, batch_size: int, device: torch.device | str = "cpu",
                    repeats: int = REPEATS) -> pd.DataFrame:
    """One row per operator class: FLOPs and seconds per training step (forward, cross-entropy, backward) and
    their shares. Runtime is the operators' self time (device time on CUDA), so nothing counts twice;
    autograd-engine and Python overhead between operators is left out, as Ivanov et al. time kernels."""
    device = torch.device(device)
    model = Transformer(config).to(device).train()
    tokens = torch.randint(0, config.vocab_size, (batch_size, config.context + 1), device=device,
                           generator=torch.Generator(device=device).manual_seed(0))
    contraction_flops = _contraction_flops(model, tokens)
    for _ in range(WARMUP_STEPS):
        _training_step(model, tokens)
    flops, seconds = _class_totals(_profiled_steps(model, tokens, repeats), on_cuda=device.type == "cuda")
    flops_per_step = {cls: flops[cls] / repeats for cls in CLASSES} | {"tensor contraction": contraction_flops}
    frame = pd.DataFrame({"class": CLASSES, "flops": [flops_per_step[c] for c in CLASSES],
                          "time_s": [seconds[c] / repeats for c in CLASSES]})
    frame["flop_share"] = frame["flops"] / frame["flops"].sum()
    frame["time_share"] = frame["time_s"] / frame["time_s"].sum()
    return frame[["class", "flops", "flop_share", "time_s", "time_share"]]


def plot_operator_shares(frames: dict[str, pd.DataFrame], path: Path | None = None, title: str = "") -> plt.Figure:
    """One panel per variant: % of FLOPs beside % of runtime per class, on a log axis so that the
    normalisation's fraction of a percent of FLOPs stays visible."""
    fig, axes = plt.subplots(1, len(frames), figsize=(5.5 * len(frames), 4.5), sharey=True, squeeze=False)
    for ax, (variant, frame) in zip(axes[0], frames.items()):
        long = frame.melt(id_vars="class", value_vars=["flop_share", "time_share"], var_name="measure", value_name="share")
        long["percent"] = 100 * long["share"]
        long["measure"] = long["measure"].map({"flop_share": "% FLOPs", "time_share": "% runtime"})
        sns.barplot(data=long, x="class", y="percent", hue="measure", ax=ax)
        for bars in ax.containers:
            ax.bar_label(bars, labels=[f"{v:.2g}" for v in bars.datavalues], fontsize=7)
        ax.set(yscale="log", ylim=(1e-3, 500), title=variant, xlabel="", ylabel="% of the training step")
        ax.tick_params(axis="x", labelrotation=20)
        ax.legend(title=None, fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def _markdown(frames: dict[str, pd.DataFrame], header_line: str) -> str:
    header = ["operator class", *(f"{v} {m}" for v in frames for m in ("% FLOPs", "% runtime")),
              "Ivanov BERT % FLOPs", "Ivanov BERT % runtime"]
    rows = []
    for cls in CLASSES:
        cells = [cls]
        for frame in frames.values():
            row = frame.set_index("class").loc[cls]
            cells += [f"{100 * row.flop_share:.3g}", f"{100 * row.time_share:.3g}"]
        cells += [f"{value:g}" for value in IVANOV_BERT[cls]] if cls in IVANOV_BERT else ["–", "–"]
        rows.append(cells)
    step_ms = ", ".join(f"{v} {1e3 * f['time_s'].sum():.2f} ms" for v, f in frames.items())
    constants = ", ".join(f"{cls} {value}" for cls, value in FORWARD_FLOPS_PER_ELEMENT.items())
    notes = (f"Profiled operator time per step: {step_ms}. Contraction FLOPs are exact (FlopCounterMode: full T² "
             f"attention, flash backward's recomputed scores included); the other classes are estimated as forward "
             f"elements × FLOPs per element ({constants}) × (1 + {BACKWARD_FLOP_RATIO}) for backward. A composite "
             "operator's internals and its backward count in its class. Ivanov et al.'s statistical normalisation "
             "includes softmax (unverified): compare their row with our normalisation + softmax.")
    return "\n\n".join([header_line, markdown_table(header, rows), notes]) + "\n"


def write_operator_profile(ablation: Ablation, preset: Preset, out_dir: Path, device: str = "cpu") -> list[Path]:
    """op_profile-PRESET.md, .csv and .png for every variant of the ablation; returns the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    batch, context = preset.train.batch_size, model_config(ablation, ablation.baseline, preset).context
    frames = {v: operator_shares(model_config(ablation, v, preset), batch, device) for v in ablation.variants}
    csv_path, png_path, md_path = (out_dir / f"op_profile-{preset.name}.{suffix}" for suffix in ("csv", "png", "md"))
    table = pd.concat([frame.assign(variant=variant) for variant, frame in frames.items()])
    table[["variant", *table.columns[:-1]]].to_csv(csv_path, index=False)
    title = f"{ablation.name}: share of FLOPs vs runtime per operator class"
    plt.close(plot_operator_shares(frames, png_path, title))
    header_line = (f"# {title}\n\nDevice: {device_name(torch.device(device))}; torch {torch.__version__}; preset "
                   f"`{preset.name}`; batch {batch} × context {context}; {REPEATS} profiled training steps "
                   f"(forward, cross-entropy, backward) after warm-up.")
    md_path.write_text(_markdown(frames, header_line))
    return [md_path, csv_path, png_path]
