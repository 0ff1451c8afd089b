"""Parallax from Python: how should this model be split across these GPUs for this workload?

Search serving plans for an LLM (data, pipeline, tensor and expert parallelism), simulate one
plan under iteration-level batching, predict one iteration, and place an operator graph
exactly. Results are plain dicts (the fields of the CLI's ``--json`` output, see docs/cli.md;
``place`` returns the solution without the baselines) and, when pandas is installed,
DataFrames.

    >>> import parallax
    >>> r = parallax.search("llama-3.1-8b", "1x2xH100", "chat", requests=64,
    ...                     slo="ttft=500ms,tpot=50ms")
    >>> r.best["plan"]                                     # doctest: +SKIP
    'dp=1,pp=1,tp=2'

Models, clusters and workloads are given as text (as on the command line), as paths
(``os.PathLike``) or as :class:`Model`, :class:`Cluster` and :class:`Workload` objects, which
load once. A cost model
written in Python (:class:`CostModel`) plugs in wherever ``cost_model=`` is accepted.

Every invalid input raises ``ValueError`` (or ``TypeError`` for a wrong type) with a message
that names the field, the value and what was expected. Counts are checked against the CLI's
documented limits, exported here as ``MAX_REQUESTS``, ``MAX_NUM_SEQS``,
``MAX_BATCHED_TOKENS``, ``MAX_GPUS``, ``MAX_PLANS``, ``MAX_LIST_VALUES``,
``MAX_PRICE_PER_GPU_HOUR``, ``MAX_DURATION_S``, ``MAX_DRAFT_TOKENS``, ``MAX_STEADY_REQUESTS``
and ``MAX_SUBGRAPHS``.
"""

import inspect as _inspect
import json as _json
import operator as _operator
import os as _os

from . import _native
from ._native import (
    MAX_BATCHED_TOKENS,
    MAX_DRAFT_TOKENS,
    MAX_DURATION_S,
    MAX_GPUS,
    MAX_LIST_VALUES,
    MAX_NUM_SEQS,
    MAX_PLANS,
    MAX_PRICE_PER_GPU_HOUR,
    MAX_REQUESTS,
    MAX_STEADY_REQUESTS,
    MAX_SUBGRAPHS,
    Cluster,
    Model,
    Workload,
)

__all__ = [
    "Cluster",
    "CostModel",
    "Model",
    "SearchResult",
    "SimulationResult",
    "Workload",
    "catalog",
    "place",
    "predict",
    "search",
    "simulate",
]

__version__ = _native.__version__

#: Largest ``seed`` (an unsigned 64-bit integer).
MAX_SEED = 2**64 - 1


def _count(name, value, lo, hi):
    """``value`` as an int in ``lo..=hi``: a ``TypeError`` naming ``name`` for a non-integer
    (``bool`` included), a ``ValueError`` naming ``name``, the value and the range otherwise.
    Checked here, before the native code, so that the error is not a bare ``OverflowError``."""
    if isinstance(value, bool) or not hasattr(type(value), "__index__"):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
    v = _operator.index(value)
    if not lo <= v <= hi:
        raise ValueError(f"{name} = {value!r}: expected a whole number from {lo} to {hi}")
    return v


def _count_list(name, values, hi):
    """``values`` (a list or tuple of ints in ``1..=hi``, at most ``MAX_LIST_VALUES`` of them)
    as a list; errors name ``name`` (and the index of a bad element)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(
            f"{name}: expected a list of ints (values to search over), got "
            f"{type(values).__name__} {values!r}"
        )
    values = list(values)
    if len(values) > MAX_LIST_VALUES:
        raise ValueError(f"{name}: expected at most {MAX_LIST_VALUES} values, got {len(values)}")
    return [_count(f"{name}[{i}]", v, 1, hi) for i, v in enumerate(values)]


#: The count options of :func:`search` and :func:`simulate` and their ranges (the CLI's).
_COUNTS = {
    "requests": (1, MAX_REQUESTS),
    "max_plans": (1, MAX_PLANS),
    "max_gpus": (1, MAX_GPUS),
    "max_pp": (1, MAX_GPUS),
    "max_num_seqs": (1, MAX_NUM_SEQS),
    "max_num_batched_tokens": (1, MAX_BATCHED_TOKENS),
    "chunk_size": (1, MAX_BATCHED_TOKENS),
    "num_speculative_tokens": (1, MAX_DRAFT_TOKENS),
    "steady_requests": (10, MAX_STEADY_REQUESTS),
    "seed": (0, MAX_SEED),
}
#: The list options of :func:`search` and their values' maxima.
_COUNT_LISTS = {
    "search_max_num_seqs": MAX_NUM_SEQS,
    "search_chunk_sizes": MAX_BATCHED_TOKENS,
}


#: The real-valued options of :func:`search` and :func:`simulate` (``bool`` is refused: it is
#: an int to Python, but no rate, fraction or time is written ``True``).
_REALS = (
    "rate",
    "gpu_memory_utilization",
    "time_limit_s",
    "slo_ttft_ms",
    "slo_tpot_ms",
    "slo_target",
    "price_per_gpu_hour",
)


def _real(name, value):
    """``value`` as a float: a ``TypeError`` naming ``name`` for a ``bool`` or a non-number, a
    ``ValueError`` for an int too large for a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(
        type(value), "__float__"
    ):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__} {value!r}")
    try:
        return float(value)
    except OverflowError:
        raise ValueError(
            f"{name}: expected a number within a float's range, got an int of "
            f"{len(str(value))} digits"
        ) from None


def _check_options(fn, public, options):
    """``options`` of ``public`` (the function the user called), for the native ``fn``: an
    unknown keyword is a ``TypeError`` naming ``public``; every count (and list of counts) and
    real number is checked; ``None`` means unset (the native default)."""
    params = _inspect.signature(fn).parameters
    out = {}
    for name, v in options.items():
        p = params.get(name)
        if p is None or p.kind != _inspect.Parameter.KEYWORD_ONLY:
            raise TypeError(f"{public}() got an unexpected keyword argument {name!r}")
        if v is None:
            # unset: the native default (``seed=0``, ``engine="vllm"``, …)
            continue
        if name in _COUNTS:
            v = _count(name, v, *_COUNTS[name])
        elif name in _COUNT_LISTS:
            v = _count_list(name, v, _COUNT_LISTS[name])
        elif name in _REALS:
            v = _real(name, v)
        elif name == "speculative_acceptance":
            if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
                raise TypeError(
                    f"{name}: expected a list of acceptance rates, got {type(v).__name__} {v!r}"
                )
            v = [_real(f"{name}[{i}]", x) for i, x in enumerate(v)]
        out[name] = v
    return out


def _specs(name, specs):
    """``prefill`` / ``decode``: ``None`` (no specs), one spec string or an iterable of them."""
    if specs is None:
        return []
    if isinstance(specs, str):
        return [specs]
    if isinstance(specs, bytes) or not hasattr(specs, "__iter__"):
        raise TypeError(
            f"{name}: expected a batch spec string such as \"2x1024\", a list of them, or None; "
            f"got {type(specs).__name__} {specs!r}"
        )
    specs = list(specs)
    for i, s in enumerate(specs):
        if not isinstance(s, str):
            raise TypeError(
                f"{name}[{i}]: expected a batch spec string such as \"2x1024\", got "
                f"{type(s).__name__} {s!r}"
            )
    return specs


class CostModel:
    """Base class of a cost model written in Python.

    Subclass it and define only the methods you want to change; every other method is the
    ``base`` model's (``"auto"``: the measured profile where one ships, else the calibrated
    roofline; or ``"roofline"``, ``"profiled"``). Each method receives a dict describing the op
    and ``inner``, the base model's answer in seconds, and returns seconds:

    - ``gemm(op, inner)``: ``op`` has ``m``, ``n``, ``k``, ``count``, ``weight_dtype``,
      ``act_dtype``.
    - ``prefill_attention(op, inner)``: the attention shape (``heads``, ``kv_heads``,
      ``qk_head_dim``, ``v_head_dim``, ``kv_bytes_per_token``, ``window``, ``act_dtype``,
      ``kv_dtype``) and ``chunks``, a list of ``(new_tokens, prefix)``.
    - ``decode_attention(op, inner)``: the shape and ``requests``, ``context_sum``,
      ``context_max``.
    - ``elementwise(op, inner)``: ``kind``, ``bytes``, ``flops``.
    - ``collective(op, inner)``: ``kind`` (``all_reduce``, ``all_gather``,
      ``reduce_scatter``, ``all_to_all``, ``send_recv``), ``bytes`` per rank, ``group_size``,
      ``per_node``, ``nodes``.
    - ``kernel_launch_overhead(inner)``, ``iteration_overhead(inner)``,
      ``host_overlap_exponent(inner)``, ``graph_kernel_overlap(inner)``: constants
      (``host_overlap_exponent`` > 0, ``inf`` allowed; ``graph_kernel_overlap``, the device
      time each pair of consecutive kernels of a CUDA-graph replay hides, in [0, 1] seconds).
      The engine models ``"vllm"``, ``"sglang"`` and ``"trtllm"`` issue ops at their own
      compiled forward's cost and overlap, so they never call ``kernel_launch_overhead`` or
      ``host_overlap_exponent``: defining either with such an engine raises a
      ``UserWarning`` saying so; ``engine="none"`` and ``"vllm-v0"`` use both.

    Methods are called from the simulator's worker threads (one at a time, under the GIL) and
    must be pure functions of their arguments: the results are cached per shape. An exception,
    or a return value that is not a finite number of seconds >= 0 (or out of the ranges above),
    is raised from the ``search``/``simulate``/``predict`` call that used the model.

    ``cost_model=`` also takes any object defining at least one of these methods (with the
    ``base`` and ``name`` attributes optional); an object defining none of them that is not a
    ``CostModel`` is a ``TypeError``. ``name``, when set, must be a non-empty string.

    >>> class SlowNetwork(parallax.CostModel):            # doctest: +SKIP
    ...     name = "slow-network"
    ...     def collective(self, op, inner):
    ...         return 4.0 * inner
    """

    #: The model the methods you do not define come from.
    base = "auto"
    #: The name reports show (default ``python:<class name>``).
    name = None


def _frame(rows):
    """A DataFrame of ``rows`` (flat dicts) when pandas is installed, else the list."""
    try:
        import pandas as pd
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "to_dataframe() needs pandas: pip install pandas (or use the dicts directly)"
        ) from e
    return pd.DataFrame(rows)


def _flatten(d, prefix=""):
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists are kept as values."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


class SearchResult:
    """What :func:`search` returns: the report as a dict (``.report``) with shortcuts."""

    def __init__(self, report):
        self.report = report

    @property
    def best(self):
        """The best plan that meets the constraints (a dict), or ``None``."""
        return self.report["best"]

    @property
    def ranked(self):
        """Every simulated candidate, best first (dicts)."""
        return self.report["ranked"]

    @property
    def baselines(self):
        """The heuristic, maximum-TP and best-even-split baselines with the best plan's gain over each."""
        return self.report["baselines"]

    @property
    def pareto(self):
        """The Pareto front asked for with ``pareto=(a, b)``, or ``None``."""
        return self.report["pareto"]

    def to_dict(self):
        """The whole report (the CLI's ``search --json``)."""
        return self.report

    def to_json(self):
        return _json.dumps(self.report)

    def to_dataframe(self):
        """One row per ranked candidate, nested fields flattened (``metrics.e2e_s.p99``).
        Needs pandas."""
        rows = []
        for r in self.ranked:
            row = _flatten(r)
            rows.append(row)
        return _frame(rows)

    def __repr__(self):
        best = self.best["plan"] if self.best else None
        return (
            f"SearchResult(model={self.report['model']!r}, cluster={self.report['cluster']!r}, "
            f"objective={self.report['objective']!r}, best={best!r}, "
            f"ranked={len(self.ranked)})"
        )


class SimulationResult:
    """What :func:`simulate` returns: ``.metrics`` (a dict, the CLI's ``simulate --json``),
    ``.requests`` (one dict per request) and ``.memory`` (the engine's memory setting and the KV
    cache it leaves one replica, as the CLI's ``memory``; ``None`` for a disaggregated
    deployment, which has a plan per pool)."""

    def __init__(self, out):
        self.plan = out["plan"]
        self.cost_model = out["cost_model"]
        self.engine = out.get("engine", "none")
        self.precision = out["precision"]
        self.memory = out["memory"]
        self.metrics = out["metrics"]
        self.requests = out["requests"]

    def to_dict(self):
        return {
            "plan": self.plan,
            "cost_model": self.cost_model,
            "engine": self.engine,
            "precision": self.precision,
            "memory": self.memory,
            "metrics": self.metrics,
            "requests": self.requests,
        }

    def to_json(self):
        """:meth:`to_dict` as JSON text."""
        return _json.dumps(self.to_dict())

    def to_dataframe(self):
        """One row per request. Needs pandas."""
        return _frame(self.requests)

    def __repr__(self):
        m = self.metrics
        return (
            f"SimulationResult(plan={self.plan!r}, completed={m['requests']['completed']}, "
            f"e2e_mean_s={m['e2e_s']['mean']:.4g})"
        )


def search(model, cluster, workload, **options):
    """Search serving plans of ``model`` on ``cluster`` for ``workload``.

    Options (all keyword-only, as the CLI's ``search`` flags): ``objective`` (``e2e-mean``,
    ``e2e-p99``, ``ttft-p99``, ``throughput``, ``goodput``, ``energy``, ``cost``,
    ``min-gpus``, …), ``slo`` (``"ttft=500ms,tpot=50ms"``) or ``slo_ttft_ms`` /
    ``slo_tpot_ms``, ``slo_target``, ``cost_model`` (``"auto"``, ``"roofline"``,
    ``"profiled"`` or a :class:`CostModel`), ``max_plans``, ``time_limit_s``, ``max_gpus``,
    ``use_all_gpus``, ``max_pp``, ``scheduler``, ``max_num_seqs``, ``max_num_batched_tokens``,
    ``chunk_size`` (chunked-prefill schedulers only: ``"sarathi"``, ``"prefill-first"``),
    ``search_max_num_seqs`` / ``search_chunk_sizes`` (lists of at most ``MAX_LIST_VALUES``
    values to search over), ``gpu_memory_utilization``, ``price_per_gpu_hour`` (0 to
    ``MAX_PRICE_PER_GPU_HOUR``), ``pareto`` (two different objective names),
    ``rate`` and ``requests`` (rescale / cut the workload), ``engine`` (the serving engine every
    plan runs under: ``"vllm"`` by default, as the CLI; ``"vllm-v0"``, ``"sglang"``,
    ``"trtllm"``, or ``"none"`` for the bare simulator), ``quantization`` (``"fp8"``,
    ``"int8"``, ``"int4"``, ``"mxfp4"``, ``"nvfp4"``; default the checkpoint's) and
    ``kv_cache_dtype`` (``"auto"``, ``"fp8"``, ``"bf16"``) as the CLI's ``--quantization`` and
    ``--kv-cache-dtype``, and ``capacity_scheduler_policy`` (``"guaranteed-no-evict"``: admission
    reserves each request's whole KV, the ``"trtllm"`` engine's default; ``"max-utilization"``:
    admission on the prompt, with preemption, the others'), ``num_speculative_tokens`` and
    ``speculative_acceptance`` (a list of rates, one per draft) for speculative decoding with
    the model's multi-token-prediction module, as the CLI's ``--num-speculative-tokens`` and
    ``--speculative-acceptance``, and for ``throughput`` and ``goodput`` ``steady_requests``
    (the least length of the steady-state stream, 10 to ``MAX_STEADY_REQUESTS``, default 4,000)
    and ``arrivals`` (``"poisson"``, default, or ``"trace"``), as the CLI's
    ``--steady-requests`` and ``--arrivals``. ``prefix_caching=True`` simulates every
    candidate with automatic prefix caching (the CLI's ``--prefix-caching``; default off).

    ``time_limit_s`` is a number of seconds > 0 and at most ``MAX_DURATION_S`` (1,000,000, as
    the CLI's durations). Counts are ints within the CLI's limits: ``requests`` 1 to
    ``MAX_REQUESTS``, ``max_plans`` 1 to ``MAX_PLANS``, ``max_gpus`` / ``max_pp`` 1 to
    ``MAX_GPUS``, ``max_num_seqs`` 1 to ``MAX_NUM_SEQS``, ``max_num_batched_tokens`` /
    ``chunk_size`` 1 to ``MAX_BATCHED_TOKENS``, ``num_speculative_tokens`` 1 to
    ``MAX_DRAFT_TOKENS``.

    Ctrl-C (``KeyboardInterrupt``, or any exception a signal handler raises) stops a running
    search within about 100 ms plus the candidate being simulated, and is raised here.

    Returns a :class:`SearchResult`.
    """
    options = _check_options(_native.search_json, "search", options)
    return SearchResult(_json.loads(_native.search_json(model, cluster, workload, **options)))


def simulate(model, cluster, plan, workload, **options):
    """Simulate ``workload`` on one plan (``"dp=2,tp=4"``, the canonical plan string), or on
    a disaggregated deployment (``"prefill=1x(tp=2);decode=1x(tp=2)"``, as a search's
    ``disaggregation`` ranks them and the CLI's ``simulate --plan`` takes them). On a
    heterogeneous cluster (``"1x8xH100+1x8xA100"``) each GPU kind gets its own automatic cost
    model: ``cost_model`` must then be ``None`` or ``"auto"``.

    Options: ``cost_model``, ``scheduler``, ``max_num_seqs``, ``max_num_batched_tokens``,
    ``chunk_size``, ``slo`` / ``slo_ttft_ms`` / ``slo_tpot_ms``, ``router``, ``seed``,
    ``gpu_memory_utilization``, ``rate``, ``requests``, ``engine`` (``"vllm"`` by default, as the
    CLI; ``"vllm-v0"``, ``"sglang"``, ``"trtllm"``, or ``"none"`` for the bare simulator),
    ``quantization``, ``kv_cache_dtype``, ``capacity_scheduler_policy``,
    ``num_speculative_tokens``, ``speculative_acceptance`` and ``prefix_caching`` (as
    :func:`search`; counts in the same ranges, ``seed`` 0 to 2**64 - 1; the
    ``"prefix-affinity"`` router needs ``prefix_caching=True``). ``None`` for any option means
    its default.
    ``time_limit_s`` (seconds > 0, at most ``MAX_DURATION_S``; default: none) stops a run
    that outlasts it with a ``TimeoutError`` and no result, as the CLI's ``--time-limit``;
    Ctrl-C stops a run within about 100 ms and raises ``KeyboardInterrupt``.
    Returns a
    :class:`SimulationResult` (``.precision`` names the types simulated).
    """
    options = _check_options(_native.simulate_json, "simulate", options)
    return SimulationResult(
        _json.loads(_native.simulate_json(model, cluster, plan, workload, **options))
    )


def predict(
    model,
    *,
    gpu="H100",
    tp=1,
    prefill=(),
    decode=(),
    cuda_graphs=True,
    cost_model=None,
    engine="vllm",
    quantization=None,
    kv_cache_dtype="auto",
    enable_expert_parallel=False,
    num_speculative_tokens=None,
    speculative_acceptance=None,
):
    """Predict one iteration of ``model`` with tensor parallelism ``tp``: on one node, or on
    nodes of the GPU's scale-up domain when wider (``tp=16`` on H100s: 2 nodes of 8, whose
    collectives cross the network; the dict's ``cluster`` names it).

    ``prefill`` and ``decode`` are lists of batch specs as the CLI takes them
    (``"2x1024"``: two prompts of 1024 tokens; decode ``"32x2048"``: 32 requests with 2048
    tokens of context); a single string is one spec and ``None`` means none. ``tp`` is 1 to
    ``MAX_GPUS``. ``engine`` (``"vllm"`` by default, as the CLI; ``"vllm-v0"``,
    ``"sglang"``, ``"trtllm"``, or ``"none"`` for the bare cost model) decides the CUDA-graph
    policy, issue costs and kernels; ``cuda_graphs=False`` runs the iteration eagerly.
    ``quantization`` and ``kv_cache_dtype`` as in :func:`search`.
    ``enable_expert_parallel=True`` (vLLM's flag; MoE models only) splits the experts over
    the ``tp`` GPUs (plan ``tp=N,ep=N``). ``num_speculative_tokens`` and
    ``speculative_acceptance`` as in :func:`search` (the dict then has ``speculation``:
    ``draft_tokens``, ``tokens_per_step``, and ``ms_per_token`` where requests decode).
    Returns a dict (the CLI's ``predict --json``, with ``engine``, ``cluster`` and
    ``precision``).
    """
    tp = _count("tp", tp, 1, MAX_GPUS)
    if num_speculative_tokens is not None:
        num_speculative_tokens = _count(
            "num_speculative_tokens", num_speculative_tokens, 1, MAX_DRAFT_TOKENS
        )
    return _json.loads(
        _native.predict_json(
            model,
            gpu=gpu,
            tp=tp,
            prefill=_specs("prefill", prefill),
            decode=_specs("decode", decode),
            cuda_graphs=cuda_graphs,
            cost_model=cost_model,
            engine=engine,
            quantization=quantization,
            kv_cache_dtype=kv_cache_dtype,
            enable_expert_parallel=enable_expert_parallel,
            num_speculative_tokens=num_speculative_tokens,
            speculative_acceptance=speculative_acceptance,
        )
    )


def place(graph, *, objective="throughput", subgraphs=1, time_limit_s=None):
    """Place the operator graph in the file ``graph`` (a ``str`` or ``os.PathLike`` path)
    exactly (``objective`` ``"throughput"``: contiguous max-load; ``"latency"``: at most
    ``subgraphs`` subgraphs per accelerator, 1 to ``MAX_SUBGRAPHS``; under ``"throughput"``
    ``subgraphs`` must stay 1, as the CLI's ``--subgraphs``). ``time_limit_s``: seconds > 0 and
    at most ``MAX_DURATION_S``; by default the CLI's 300 s. Returns a dict with ``value``,
    ``status`` (optimal, or stopped with a proven lower bound) and the placement or schedule
    (fewer fields than the CLI's ``place --json``, which adds the baselines)."""
    if not isinstance(graph, (str, _os.PathLike)):
        raise TypeError(
            f"graph: expected a path (str or os.PathLike), got {type(graph).__name__} {graph!r}"
        )
    subgraphs = _count("subgraphs", subgraphs, 1, MAX_SUBGRAPHS)
    return _json.loads(
        _native.place_json(
            _os.fsdecode(graph), objective=objective, subgraphs=subgraphs,
            time_limit_s=time_limit_s,
        )
    )


def catalog():
    """The embedded models, catalogued GPUs and embedded workloads (names)."""
    return _json.loads(_native.catalog_json())
