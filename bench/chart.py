"""Bar chart (SVG, no plotting library needed) of a seed-table JSON: forward+backward time
per model and mode, log scale. Usage: python bench/chart.py RESULTS.json OUT.svg"""
import json
import math
import sys

MODES = [("pyg_eager", "PyG eager", "#9e9e9e"), ("pyg_compiled", "PyG compiled", "#616161"),
         ("gnnx_eager", "gnnx eager", "#90caf9"), ("gnnx_compiled", "gnnx compiled", "#1e88e5"),
         ("gnnx_cudagraph", "gnnx compiled + CUDA graph", "#0d47a1")]


def main(src, dst, kind="fwd_bwd"):
    data = json.load(open(src))
    models = list(data["models"])
    width, height, left, bottom, top = 900, 420, 70, 60, 50
    plot_h = height - bottom - top
    group = (width - left - 20) / len(models)
    bar = group / (len(MODES) + 1)
    values = [data["models"][m].get(f"{k}_{kind}_s") for m in models for k, _, _ in MODES]
    lo, hi = math.log10(min(v for v in values if v) / 1.5), math.log10(max(v for v in values if v) * 1.5)
    y = lambda v: top + plot_h * (1 - (math.log10(v) - lo) / (hi - lo))  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
           f'font-size="12"><rect width="100%" height="100%" fill="white"/>',
           f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">Seed benchmark, {kind.replace("_", "+")}, '
           f'{data["steps"]} steps (s, log scale): {data["device"]}, torch {data["torch"]}</text>']
    for tick in [10 ** e for e in range(math.floor(lo), math.ceil(hi) + 1)] + [3 * 10 ** e for e in range(math.floor(lo), math.ceil(hi))]:
        if lo <= math.log10(tick) <= hi:
            out.append(f'<line x1="{left}" x2="{width - 20}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#eee"/>'
                       f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:g}</text>')
    for i, model in enumerate(models):
        for j, (key, _, colour) in enumerate(MODES):
            v = data["models"][model].get(f"{key}_{kind}_s")
            if not v:
                continue
            x = left + i * group + (j + 0.5) * bar
            out.append(f'<rect x="{x:.1f}" y="{y(v):.1f}" width="{bar * 0.9:.1f}" height="{top + plot_h - y(v):.1f}" '
                       f'fill="{colour}"><title>{model} {key}: {v:.3f} s</title></rect>')
        out.append(f'<text x="{left + (i + 0.5) * group:.1f}" y="{top + plot_h + 18}" text-anchor="middle">{model}</text>')
    for j, (_, label, colour) in enumerate(MODES):
        x = left + j * 165
        out.append(f'<rect x="{x}" y="{height - 22}" width="12" height="12" fill="{colour}"/>'
                   f'<text x="{x + 16}" y="{height - 12}">{label}</text>')
    out.append("</svg>")
    open(dst, "w").write("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *(sys.argv[3:4]))
