"""The benchmarks: load, startup, memory and SMS throughput; product code never imports it."""
