# Bar chart of the runtime micro-benchmarks: weft and Boost.Fiber per micro
# on a log scale, with the issue's target for weft as a black bar.
#
#   bazel run -c opt //bench:runtime > bench/runtime.txt
#   gnuplot bench/plot_runtime.gp                  # writes bench/runtime.png
#   gnuplot -e "data='a.txt'; out='a.png'" bench/plot_runtime.gp
#
# Input lines: <micro> weft_<unit>=<x> boost_fiber_<unit>=<y> ratio=<x/y>

if (!exists("data")) data = "bench/runtime.txt"
if (!exists("out")) out = "bench/runtime.png"

# "weft_ns=108.5" -> 108.5, and -> "ns"
val(c) = real(substr(strcol(c), strstrt(strcol(c), "=") + 1, strlen(strcol(c))))
unit(c) = substr(strcol(c), strstrt(strcol(c), "_") + 1, strstrt(strcol(c), "=") - 1)

# Targets from the issue; pingpong_2w's is twice the measured pingpong_1w.
stats data using (strcol(1) eq "pingpong_1w" ? val(2) : NaN) nooutput
pingpong_1w_weft = STATS_max
target(m) = m eq "pingpong_1w" ? 100 : \
            m eq "pingpong_2w" ? 2 * pingpong_1w_weft : \
            m eq "spawn_join_seq" ? 120 : \
            m eq "spawn_join_all" ? 2000 : \
            m eq "parked_rss" ? 4.5 * 1024 : NaN

set terminal pngcairo noenhanced size 1000,560 font "sans,11"
set output out
set title "weft vs Boost.Fiber, best of 5 runs each (lower is better)"
set style data histogram
set style histogram clustered gap 1.5
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [20:40000]
set ylabel "ns per operation; bytes per parked fiber for parked_rss"
set grid ytics mytics
set key top left
set xtics nomirror scale 0
set xrange [-0.6:4.6]
set bmargin 4

# With two bars and a gap of 1.5 a cluster is 3.5 bar widths wide, so the
# bars of cluster i are centred at i -/+ 1/7.
half = 1.0 / 7
plot data using (val(2)):xtic(sprintf("%s\n(%s)  ratio %.2f", strcol(1), unit(2), val(4))) \
          title "weft" lc rgb "#1b7837", \
     '' using (val(3)) title "Boost.Fiber" lc rgb "#762a83", \
     '' using ($0 - half):(val(2)):(sprintf("%.0f", val(2))) with labels offset 0,0.8 notitle, \
     '' using ($0 + half):(val(3)):(sprintf("%.0f", val(3))) with labels offset 0,0.8 notitle, \
     '' using 0:(target(strcol(1))):(0.42) with xerrorbars pt 0 ps 0 lw 2.5 lc rgb "black" \
          title "target for weft"
