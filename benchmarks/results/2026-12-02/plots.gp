set terminal pngcairo size 900,560 font 'sans,10'
set grid
set key top left
set datafile missing '-'
set output 'latency.png'
set title 'latency (ping-pong, one way), 2 ranks'
set xlabel 'message size (bytes)'
set ylabel 'µs'
set logscale x 2
set logscale y
set xtics 4
set format x '%.0b%BB'
plot 'latency.dat' using 1:2 with linespoints lt 1 title 'rmpi', 'latency.dat' using 1:3 with linespoints lt 2 title 'rmpi TCP', 'latency.dat' using 1:4 with linespoints lt 3 title 'Open MPI', 'latency.dat' using 1:5 with linespoints lt 4 title 'Open MPI TCP', 'latency.dat' using 1:6 with linespoints lt 5 title 'MPICH'
set output 'bw.png'
set title 'bandwidth (window of 64), 2 ranks'
set xlabel 'message size (bytes)'
set ylabel 'MB/s'
set logscale x 2
set logscale y
set xtics 4
set format x '%.0b%BB'
plot 'bw.dat' using 1:2 with linespoints lt 1 title 'rmpi', 'bw.dat' using 1:3 with linespoints lt 2 title 'rmpi TCP', 'bw.dat' using 1:4 with linespoints lt 3 title 'Open MPI', 'bw.dat' using 1:5 with linespoints lt 4 title 'Open MPI TCP', 'bw.dat' using 1:6 with linespoints lt 5 title 'MPICH'
set terminal pngcairo size 1400,700 font 'sans,9'
set output 'collectives.png'
set multiplot layout 2,4 title 'collectives (8 B; barrier: none): µs against ranks'
unset logscale x
set logscale y
set format x '%g'
set xtics (2, 4, 8)
set xrange [1.5:8.5]
set xlabel 'ranks'
set ylabel 'µs'
unset key
set title 'bcast'
plot 'coll_bcast.dat' using 1:2 with linespoints lt 1 title 'rmpi', 'coll_bcast.dat' using 1:4 with linespoints lt 3 title 'Open MPI', 'coll_bcast.dat' using 1:6 with linespoints lt 5 title 'MPICH'
set title 'reduce'
plot 'coll_reduce.dat' using 1:2 with linespoints lt 1 title 'rmpi', 'coll_reduce.dat' using 1:4 with linespoints lt 3 title 'Open MPI', 'coll_reduce.dat' using 1:6 with linespoints lt 5 title 'MPICH'
set title 'allreduce'
plot 'coll_allreduce.dat' using 1:2 with linespoints lt 1 title 'rmpi', 'coll_allreduce.dat' using 1:4 with linespoints lt 3 title 'Open MPI', 'coll_allreduce.dat' using 1:6 with linespoints lt 5 title 'MPICH'
set title 'barrier'
plot 'coll_barrier.dat' using 1:2 with linespoints lt 1 title 'rmpi', 'coll_barrier.dat' using 1:4 with linespoints lt 3 title 'Open MPI', 'coll_barrier.dat' using 1:6 with linespoints lt 5 title 'MPICH'
set title 'gather'
plot 'coll_gather.dat' using 1:2 with linespoints lt 1 title 'rmpi', 'coll_gather.dat' using 1:4 with linespoints lt 3 title 'Open MPI', 'coll_gather.dat' using 1:6 with linespoints lt 5 title 'MPICH'
set title 'allgather'
plot 'coll_allgather.dat' using 1:2 with linespoints lt 1 title 'rmpi', 'coll_allgather.dat' using 1:4 with linespoints lt 3 title 'Open MPI', 'coll_allgather.dat' using 1:6 with linespoints lt 5 title 'MPICH'
set title 'alltoall'
plot 'coll_alltoall.dat' using 1:2 with linespoints lt 1 title 'rmpi', 'coll_alltoall.dat' using 1:4 with linespoints lt 3 title 'Open MPI', 'coll_alltoall.dat' using 1:6 with linespoints lt 5 title 'MPICH'
unset title
unset border
unset tics
unset xlabel
unset ylabel
unset logscale y
set xrange [0:1]
set yrange [0:1]
set key center center font 'sans,11'
plot NaN with linespoints lt 1 title 'rmpi', NaN with linespoints lt 3 title 'Open MPI', NaN with linespoints lt 5 title 'MPICH'
unset multiplot
