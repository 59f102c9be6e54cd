# Benchmarks: built and run by `make bench`, never by `make check`.
# Each program prints `name value unit` lines; bench/run-bench.sh tabulates them.
