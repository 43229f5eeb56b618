# Charts of the static-file benchmark: requests per server CPU-second for
# each row and file, one bar per server (log scale), with weftd's target as a
# black bar over its two bars; below, each server's RSS.
#
#   bazel run -c opt //bench:static > bench/static.txt
#   gnuplot bench/plot_static.gp                  # writes bench/static.png
#   gnuplot -e "data='a.txt'; out='a.png'" bench/plot_static.gp
#
# Input lines (static_bench.sh's stdout), fields in this order:
#   static row=R size=S server=N rps= mb_s= rps_per_server_cpu_s= server_cpu=
#     client_cpu= others_cpu= ratio_vs_h2o= ratio_vs_nginx= [ratio_vs_lighttpd=]
#     [target=T.TTxh2o[,...] met=]
#   rss server=N peak_kib= idle10k_kib= base_kib= ...

if (!exists("data")) data = "bench/static.txt"
if (!exists("out")) out = "bench/static.png"

# "rps=123" -> 123; "row=ka50" -> "ka50"
val(c) = real(substr(strcol(c), strstrt(strcol(c), "=") + 1, strlen(strcol(c))))
str(c) = substr(strcol(c), strstrt(strcol(c), "=") + 1, strlen(strcol(c)))
is(kind, name) = strcol(1) eq kind && str(kind eq "static" ? 4 : 2) eq name

# The rows in the order static_bench.sh runs them, one cluster each.
rows = "ka50/100b ka50/10k ka50/1m ka1000/100b ka1000/10k ka20/1m close/100b pipe16/100b"
cluster(r, s) = sum [i = 1:words(rows)] (word(rows, i) eq r . "/" . s ? i - 1 : 0)

servers = "weftd weftd_epoll h2o nginx lighttpd"
colors = "#1b7837 #7fbf7b #2166ac #b2182b #e08214"
w = 0.16  # bar width; the five bars of a cluster span 0.8
x(r, s, n) = cluster(r, s) + (n - 3) * w

# weftd's target, from its line: h2o's figure (its own over ratio_vs_h2o)
# times the h2o factor of target=F1xh2o[,F2xlighttpd].
target_col(_) = substr(strcol(13), 1, 7) eq "target=" ? 13 : 14
target(c) = real(substr(strcol(c), 8, strstrt(strcol(c), "x") - 1))
target_y(_) = val(7) / val(11) * target(target_col(0))
max(a, b) = a > b ? a : b

set terminal pngcairo noenhanced size 1400,1000 font "sans,11"
set output out
set multiplot layout 2,1 margins 0.07,0.98,0.07,0.95 spacing 0,0.1

set title "Static files: requests per server CPU-second (higher is better); server pinned to CPU 0, client to CPU 1, access log on"
set logscale y
set yrange [1000:20000000]
set ylabel "requests per server CPU-second"
set format y "%.0s%c"
set grid ytics mytics
set xrange [-0.6:words(rows) - 0.4]
set xtics nomirror scale 0
set xtics ("ka50\n100 B" 0, "ka50\n10 KiB" 1, "ka50\n1 MiB" 2, "ka1000\n100 B" 3, \
           "ka1000\n10 KiB" 4, "ka20\n1 MiB" 5, "close\n100 B" 6, "pipe16\n100 B" 7)
set style fill solid 0.9 border -1
set boxwidth w
set key top center horizontal maxrows 2

# Every column is guarded: a line of another kind may not have the field.
S(n) = is("static", word(servers, n))
plot for [n = 1:5] data using (S(n) ? x(str(2), str(3), n) : NaN):(S(n) ? val(7) : NaN) \
       with boxes lc rgb word(colors, n) title word(servers, n), \
     for [n = 1:2] data using (S(n) ? x(str(2), str(3), n) : NaN) \
       :(S(n) ? max(val(7), target_y(0)) : NaN):(S(n) ? sprintf("%.2f", val(11)) : "") \
       with labels rotate by 90 left offset 0,0.4 font "sans,10" notitle, \
     data using (S(1) ? x(str(2), str(3), 1.5) : NaN):(S(1) ? target_y(0) : NaN):(w) \
       with xerrorbars pt 0 ps 0 lw 2.5 lc rgb "black" \
       title "target for weftd (numbers: weftd's and weftd_epoll's ratio to h2o)"

set title "RSS (lower is better): before connecting, peak over the rows, 10,000 idle keep-alive connections"
set yrange [1:1000]
set ylabel "MiB, summed over the server's processes"
set xrange [-0.6:4.6]
set xtics ("weftd" 0, "weftd_epoll" 1, "h2o" 2, "nginx" 3, "lighttpd" 4)
set boxwidth 0.25
idx(name) = sum [i = 1:words(servers)] (word(servers, i) eq name ? i - 1 : 0)
R(_) = strcol(1) eq "rss"
W(_) = R(0) && substr(str(2), 1, 5) eq "weftd"
# rss fields: 3 peak_kib, 4 idle10k_kib, 5 base_kib, 9 ratio_vs_h2o; a bar's offset by field
dx(c) = c == 5 ? -0.27 : c == 3 ? 0 : 0.27
plot data using (R(0) ? idx(str(2)) + dx(5) : NaN):(R(0) ? val(5) / 1024 : NaN) \
       with boxes lc rgb "#cccccc" title "before connecting", \
     data using (R(0) ? idx(str(2)) + dx(3) : NaN):(R(0) ? val(3) / 1024 : NaN) \
       with boxes lc rgb "#888888" title "peak over the rows", \
     data using (R(0) ? idx(str(2)) + dx(4) : NaN):(R(0) ? val(4) / 1024 : NaN) \
       with boxes lc rgb "#2166ac" title "10,000 idle connections", \
     for [c = 3:5] data using (R(0) ? idx(str(2)) + dx(c) : NaN):(R(0) ? val(c) / 1024 : NaN) \
       :(R(0) ? sprintf("%.1f", val(c) / 1024) : "") with labels offset 0,0.7 font "sans,9" notitle, \
     data using (W(0) ? idx(str(2)) + dx(4) : NaN):(W(0) ? 1.5 * val(4) / val(9) / 1024 : NaN) \
       :(0.125) with xerrorbars pt 0 ps 0 lw 2.5 lc rgb "black" title "target for weftd: 1.5 x h2o"

unset multiplot
