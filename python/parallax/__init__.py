"""Parallax from Python: how should this model be split across these GPUs for this workload?

Search serving plans for an LLM (data, pipeline, tensor and expert parallelism), simulate one
plan under iteration-level batching, predict one iteration, and place an operator graph
exactly. Results are plain dicts (the same fields as the CLI's ``--json`` output, see
docs/cli.md) and, when pandas is installed, DataFrames.

    >>> import parallax
    >>> r = parallax.search("llama-3.1-8b", "1x2xH100", "chat", requests=64,
    ...                     slo="ttft=500ms,tpot=50ms")
    >>> r.best["plan"]                                     # doctest: +SKIP
    'dp=1,pp=1,tp=2'

Models, clusters and workloads are given as text (as on the command line) or as
:class:`Model`, :class:`Cluster` and :class:`Workload` objects, which load once. A cost model
written in Python (:class:`CostModel`) plugs in wherever ``cost_model=`` is accepted.

Every invalid input raises ``ValueError`` (or ``TypeError`` for a wrong type) with a message
that names the field, the value and what was expected.
"""

import json as _json

from . import _native
from ._native import Cluster, Model, Workload

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
      ``host_overlap_exponent(inner)``, ``graph_kernel_overlap(inner)``: constants.

    Methods are called from the simulator's worker threads (one at a time, under the GIL) and
    must be pure functions of their arguments: the results are cached per shape. An exception,
    or a return value that is not a finite number of seconds >= 0, is raised from the
    ``search``/``simulate``/``predict`` call that used the model.

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
    cache it leaves one replica, as the CLI's ``memory``)."""

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
    ``chunk_size``, ``search_max_num_seqs`` / ``search_chunk_sizes`` (lists to search over),
    ``gpu_memory_utilization``, ``price_per_gpu_hour``, ``pareto`` (two objective names),
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
    ``--speculative-acceptance``.

    Returns a :class:`SearchResult`.
    """
    return SearchResult(_json.loads(_native.search_json(model, cluster, workload, **options)))


def simulate(model, cluster, plan, workload, **options):
    """Simulate ``workload`` on one plan (``"dp=2,tp=4"``, the canonical plan string).

    Options: ``cost_model``, ``scheduler``, ``max_num_seqs``, ``max_num_batched_tokens``,
    ``chunk_size``, ``slo`` / ``slo_ttft_ms`` / ``slo_tpot_ms``, ``router``, ``seed``,
    ``gpu_memory_utilization``, ``rate``, ``requests``, ``engine`` (``"vllm"`` by default, as the
    CLI; ``"vllm-v0"``, ``"sglang"``, ``"trtllm"``, or ``"none"`` for the bare simulator),
    ``quantization``, ``kv_cache_dtype``, ``capacity_scheduler_policy``,
    ``num_speculative_tokens`` and ``speculative_acceptance`` (as :func:`search`).
    Returns a
    :class:`SimulationResult` (``.precision`` names the types simulated).
    """
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
    """Predict one iteration of ``model`` with tensor parallelism ``tp`` on one node.

    ``prefill`` and ``decode`` are lists of batch specs as the CLI takes them
    (``"2x1024"``: two prompts of 1024 tokens; decode ``"32x2048"``: 32 requests with 2048
    tokens of context). ``engine`` (``"vllm"`` by default, as the CLI; ``"vllm-v0"``,
    ``"sglang"``, ``"trtllm"``, or ``"none"`` for the bare cost model) decides the CUDA-graph
    policy, issue costs and kernels; ``cuda_graphs=False`` runs the iteration eagerly.
    ``quantization`` and ``kv_cache_dtype`` as in :func:`search`.
    ``enable_expert_parallel=True`` (vLLM's flag; MoE models only) splits the experts over
    the ``tp`` GPUs (plan ``tp=N,ep=N``). ``num_speculative_tokens`` and
    ``speculative_acceptance`` as in :func:`search` (the dict then has ``speculation``:
    ``draft_tokens``, ``tokens_per_step``, ``ms_per_token``). Returns a dict (the CLI's
    ``predict --json``, with ``engine`` and ``precision``).
    """
    return _json.loads(
        _native.predict_json(
            model,
            gpu=gpu,
            tp=tp,
            prefill=list(prefill),
            decode=list(decode),
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
    """Place the operator graph in the file ``graph`` exactly (``objective``
    ``"throughput"``: contiguous max-load; ``"latency"``: at most ``subgraphs`` subgraphs per
    accelerator). Returns a dict with ``value``, ``status`` (optimal, or stopped with a proven
    lower bound) and the placement or schedule."""
    return _json.loads(
        _native.place_json(
            str(graph), objective=objective, subgraphs=subgraphs, time_limit_s=time_limit_s
        )
    )


def catalog():
    """The embedded models, catalogued GPUs and embedded workloads (names)."""
    return _json.loads(_native.catalog_json())
