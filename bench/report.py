"""Printing for ``bench/run.py``: progress lines and the comparison table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.loadgen import StepResult
    from bench.run import Options, RunResult

MEMORY_TARGET_KB = 64
P99_TARGET_MS = 50
P99_TARGET_RATE = 200


def header(options: Options, prioritised: bool) -> None:
    """Print what is about to run."""
    print(
        f"Parley benchmark: {options.visitors:,} active visitors in as many "
        f"conversations, {options.agents} agents, {options.idle:,} idle visitors; "
        f"modes {', '.join(options.modes)}; rates {options.rates} msg/s, "
        f"{options.seconds:g} s each; "
        f"{'raised' if prioritised else 'normal'} process priority.",
        flush=True,
    )


def starting(target: str, mode: str) -> None:
    """Announce one server run, with how busy the machine already is."""
    load = Path("/proc/loadavg").read_text().split()[0]
    print(f"\n== {target} on {mode} (load average {load})", flush=True)


def progress(result: RunResult) -> None:
    """Print the connection and memory figures as soon as they are known."""
    visitors, agents = result.visitors, result.agents
    print(
        f"  agents {agents.connected}/{agents.attempted}{_failures(agents.failures)};"
        " visitors "
        f"{visitors.connected:,}/{visitors.attempted:,} in {visitors.seconds:.1f} s"
        f"{_failures(visitors.failures)}; deflate accepted "
        f"{result.deflate_accepted}; RSS {result.rss_before_kb / 1024:.0f} -> "
        f"{result.rss_after_kb / 1024:.0f} MB = {_kb(result.kb_per_connection)}"
        " per connection",
        flush=True,
    )


def _failures(failures) -> str:
    """Describe connection failures by reason, if any."""
    if not failures:
        return ""
    return " (failed: " + ", ".join(f"{k} {v}" for k, v in failures.items()) + ")"


def step_summary(outcome: StepResult, p99_limit_ms: float) -> dict:
    """Reduce a step to the figures the table shows."""
    summary = {
        "rate": outcome.rate,
        "sent": outcome.sent,
        "achieved": outcome.sent / max(outcome.seconds, 0.001),
        "acked": outcome.acked,
        "unacked": outcome.unacked,
        "lost": outcome.lost,
        "duplicated": outcome.duplicated,
        "errors": dict(outcome.errors),
        "closed": outcome.closed,
        "good": outcome.good(p99_limit_ms),
    }
    for direction in ("v2a", "a2v"):
        values = outcome.latencies[direction]
        summary[direction] = {
            "count": len(values),
            "p50": outcome.percentile(direction, 0.50),
            "p99": outcome.percentile(direction, 0.99),
            "max": max(values) * 1000 if values else None,
        }
    return summary


def progress_step(step: dict) -> None:
    """Print one step's figures as soon as it ends."""
    print(
        f"  {step['rate']:>5} msg/s: v->a {_triple(step['v2a'])}  "
        f"a->v {_triple(step['a2v'])} ms; lost {step['lost']} dup "
        f"{step['duplicated']} unacked {step['unacked']} errors "
        f"{step['errors'] or 0}; CPU server {step['server_cpu']:.0%} "
        f"generator {step['generator_cpu']:.0%} machine "
        f"{step['machine_cpu']:.0%}{'' if step['good'] else '  <- over'}",
        flush=True,
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def _triple(latency: dict) -> str:
    """Format p50/p99/max in milliseconds."""
    return "/".join(_ms(latency[k]) for k in ("p50", "p99", "max"))


def _kb(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} KB"


def _ratio(ours: float | None, theirs: float | None) -> str:
    if ours is None or not theirs:
        return "-"
    return f"{ours / theirs:.2f}"


def table(results: list[RunResult], options: Options) -> str:
    """Return the Markdown tables of every mode, Parley beside the relay."""
    out = []
    for mode in dict.fromkeys(r.mode for r in results):
        parley = _find(results, "parley", mode)
        relay = _find(results, "relay", mode)
        out.append(f"\n### {mode}\n")
        out.append(f"| Figure | Parley | Bare relay | Parley ÷ relay |\n|{'---|' * 4}")
        out.extend(_rows(parley, relay))
        out.append("")
        out.extend(_verdicts(parley, relay, options))
    return "\n".join(out)


def _find(results: list[RunResult], target: str, mode: str) -> RunResult | None:
    for result in results:
        if result.target == target and result.mode == mode and not result.failure:
            return result
    return None


def _row(name: str, parley: str, relay: str, ratio: str = "") -> str:
    return f"| {name} | {parley} | {relay} | {ratio} |"


def _rows(parley: RunResult | None, relay: RunResult | None) -> list[str]:
    """Return the table rows for one mode."""
    rows = []
    held = [_held(r) for r in (parley, relay)]
    rows.append(_row("Visitor connections held", *held))
    seconds = [
        r.visitors.seconds if r and r.visitors else None for r in (parley, relay)
    ]
    rows.append(
        _row("Time to connect them", *[_s(v) for v in seconds], _ratio(*seconds))
    )
    memory = [r.kb_per_connection if r else None for r in (parley, relay)]
    rows.append(
        _row(
            "Server memory per idle connection",
            *[_kb(v) for v in memory],
            _ratio(*memory),
        )
    )
    deflate = [str(r.deflate_accepted) if r else "-" for r in (parley, relay)]
    rows.append(_row("Sockets that accepted permessage-deflate", *deflate))
    rates = sorted({s["rate"] for r in (parley, relay) if r for s in r.steps})
    for rate in rates:
        rows.extend(_rate_rows(rate, _step(parley, rate), _step(relay, rate)))
    best = [r.highest_good_rate if r else None for r in (parley, relay)]
    rows.append(
        _row(
            "**Highest rate with p99 < 100 ms and nothing lost**",
            *[f"**{v} msg/s**" if v else "none" for v in best],
            _ratio(*best),
        )
    )
    return rows


def _held(result: RunResult | None) -> str:
    if result is None or result.visitors is None:
        return "failed"
    visitors = result.visitors
    return f"{visitors.connected:,} of {visitors.attempted:,}"


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _step(result: RunResult | None, rate: int) -> dict | None:
    if result is None:
        return None
    return next((s for s in result.steps if s["rate"] == rate), None)


def _rate_rows(rate: int, parley: dict | None, relay: dict | None) -> list[str]:
    """Return the rows for one message rate."""
    pair = (parley, relay)
    rows = []
    for direction, label in (("v2a", "visitor→agent"), ("a2v", "agent→visitor")):
        cells = [_triple(s[direction]) if s else "not run" for s in pair]
        p99 = [s[direction]["p99"] if s else None for s in pair]
        rows.append(_row(f"{rate} msg/s {label} p50/p99/max ms", *cells, _ratio(*p99)))
    rows.append(_row(f"{rate} msg/s lost / duplicated / unanswered", *map(_loss, pair)))
    rows.append(_row(f"{rate} msg/s refused (error acks)", *map(_errors, pair)))
    cpu = [f"{s['server_cpu']:.0%}" if s else "-" for s in pair]
    rows.append(_row(f"{rate} msg/s server CPU (one core = 100%)", *cpu))
    return rows


def _loss(step: dict | None) -> str:
    if step is None:
        return "-"
    return f"{step['lost']} / {step['duplicated']} / {step['unacked']}"


def _errors(step: dict | None) -> str:
    if step is None:
        return "-"
    errors = step["errors"]
    return ", ".join(f"{k} {v}" for k, v in errors.items()) if errors else "0"


def _verdicts(
    parley: RunResult | None, relay: RunResult | None, options: Options
) -> list[str]:
    """Return one line per target of the issue, met or not."""
    if parley is None:
        return ["Parley failed in this mode; no target can be judged."]
    lines = []
    per = parley.kb_per_connection
    held = parley.visitors.connected if parley.visitors else 0
    lines.append(
        f"- {held:,} idle visitor connections at {_kb(per)} each "
        f"(target 10,000 at ≤ {MEMORY_TARGET_KB} KB): "
        + _met(per is not None and per <= MEMORY_TARGET_KB and held >= 10_000)
    )
    step = _step(parley, P99_TARGET_RATE)
    if step is None:
        lines.append(f"- p99 at {P99_TARGET_RATE} msg/s: not measured.")
    else:
        worst = max((step[d]["p99"] or 0) for d in ("v2a", "a2v"))
        clean = step["lost"] == 0 and step["duplicated"] == 0 and step["unacked"] == 0
        lines.append(
            f"- p99 {worst:.0f} ms at {P99_TARGET_RATE} msg/s, lost "
            f"{step['lost']}, duplicated {step['duplicated']} (target < "
            f"{P99_TARGET_MS} ms, none): " + _met(worst < P99_TARGET_MS and clean)
        )
    ours = parley.highest_good_rate
    theirs = relay.highest_good_rate if relay else None
    if theirs:
        lines.append(
            f"- highest good rate {ours or 0} vs relay {theirs} msg/s (target ≥ "
            "half): " + _met((ours or 0) * 2 >= theirs)
        )
    lines.append("- past it: " + _past(parley, options))
    return lines


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def _past(parley: RunResult, options: Options) -> str:
    """Describe what the server did at the first rate it could not hold."""
    over = [s for s in parley.steps if not s["good"]]
    if not over:
        return "no step went over the limit; raise --rates to see."
    step = max(over, key=lambda s: s["rate"])
    worst = max((step[d]["p99"] or 0) for d in ("v2a", "a2v"))
    refused = sum(step["errors"].values())
    how = (
        f"refused {refused} of {step['sent']} sends with error acks"
        if refused
        else "refused nothing"
    )
    return (
        f"at {step['rate']} msg/s it {how}; p99 {worst:.0f} ms, max "
        f"{max((step[d]['max'] or 0) for d in ('v2a', 'a2v')):.0f} ms, "
        f"{step['unacked']} unanswered by the end of the "
        f"{options.drain:g} s drain."
    )
