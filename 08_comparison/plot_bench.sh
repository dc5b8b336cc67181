#!/bin/sh
# plot_bench.sh CSV OUTDIR - the charts of `make plot`, from the CSV of advanced_ipc_bench.
#
# For each placement in the CSV (one-core, two-cores) two PNG files in OUTDIR:
#   latency_PLACEMENT.png     per mechanism, for every message size: the round-trip p50 (the
#                             point) and how far the p99 reaches above it (the bar), in us on a
#                             log scale
#   throughput_PLACEMENT.png  per mechanism, the stream's MB/s against the message size
# awk picks the columns by their names in the CSV's header row, so columns added at the end
# change nothing here.  Without gnuplot it says how to get it and exits 0.
set -eu

if [ $# -ne 2 ]; then
    echo "usage: plot_bench.sh CSV OUTDIR" >&2
    exit 2
fi
csv=$1
out=$2
if ! command -v gnuplot >/dev/null 2>&1; then
    echo "plot_bench: gnuplot is not installed: sudo apt-get install gnuplot-nox (then make plot again)"
    exit 0
fi
if [ ! -s "$csv" ]; then
    echo "plot_bench: $csv is missing or empty (make bench writes it)" >&2
    exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/plot_bench.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$out"

for placement in one-core two-cores; do
    # lat.dat: one block per size (mechanism index, p50, p99); thr.dat: one block per
    # mechanism (bytes, MB/s); names: the mechanisms and sizes in the order of the CSV.
    awk -F, -v want="$placement" -v dir="$work" '
        BEGIN { nm = 0; ns = 0 }
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        $col["placement"] != want { next }
        {
            m = $col["mechanism"]; s = $col["message_bytes"]
            if (!(m in mi)) { mi[m] = nm; mech[nm++] = m }
            if (!(s in si)) { si[s] = ns; size[ns++] = s }
            p50[mi[m], si[s]] = $col["rt_p50_us"]; p99[mi[m], si[s]] = $col["rt_p99_us"]
            mbps[mi[m], si[s]] = $col["stream_MB_per_s"]; have[mi[m], si[s]] = 1
        }
        END {
            if (nm == 0) exit 1
            for (s = 0; s < ns; s++) {
                for (m = 0; m < nm; m++)
                    if (have[m, s]) print m, p50[m, s], p99[m, s] > (dir "/lat.dat")
                if (s < ns - 1) print "\n" > (dir "/lat.dat")
            }
            for (m = 0; m < nm; m++) {
                for (s = 0; s < ns; s++)
                    if (have[m, s]) print size[s], mbps[m, s] > (dir "/thr.dat")
                if (m < nm - 1) print "\n" > (dir "/thr.dat")
            }
            line = ""
            for (m = 0; m < nm; m++) line = line sprintf("%s\"%s\" %d", m ? ", " : "", mech[m], m)
            print "xtics = \047(" line ")\047" > (dir "/names.gp")
            line = ""
            for (m = 0; m < nm; m++) line = line (m ? " " : "") mech[m]
            print "mechs = \"" line "\"" > (dir "/names.gp")
            line = ""
            for (s = 0; s < ns; s++) line = line (s ? " " : "") size[s]
            print "sizes = \"" line "\"" > (dir "/names.gp")
            print "nm = " nm "; ns = " ns > (dir "/names.gp")
        }' "$csv" || continue
    gnuplot <<EOF
load "$work/names.gp"
human(b) = b >= 1048576 ? sprintf("%d MiB", b / 1048576) : b >= 1024 ? sprintf("%d KiB", b / 1024) : sprintf("%d B", b)
set terminal pngcairo size 1200,700 noenhanced font ",10"
set datafile separator " "
set grid ytics
set key outside right top

set output "$out/latency_$placement.png"
set title "Round trip per mechanism, $placement: p50 (point) up to p99 (bar), us, log scale"
set logscale y
set ylabel "round trip (us)"
eval "set xtics rotate by -40 " . xtics
set xrange [-0.6:nm - 0.4]
width = 0.7 / ns
plot for [s = 0:ns - 1] "$work/lat.dat" index s using (\$1 - 0.35 + (s + 0.5) * width):2:2:3 \
    with yerrorbars pointtype 7 title human(word(sizes, s + 1) + 0)

set output "$out/throughput_$placement.png"
set title "Stream throughput against message size, $placement (MB/s = 10^6 B/s, log scales)"
unset xrange
set logscale x 2
set xlabel "message size (bytes)"
set ylabel "MB/s"
set xtics auto norotate
set format x "%.0f"
plot for [m = 0:nm - 1] "$work/thr.dat" index m using 1:2 with linespoints \
    linecolor (m + 1) dashtype 1 + m / 8 pointtype (m % 14 + 1) title word(mechs, m + 1)
EOF
    echo "plot_bench: wrote $out/latency_$placement.png and $out/throughput_$placement.png"
done
