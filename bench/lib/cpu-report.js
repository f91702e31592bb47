// Preloaded with `node --import` into both sides of the throughput benchmarks: at exit, report
// the process's CPU time on stderr. CPU time is far less sensitive than wall time to other
// work on the machine, so it shows a side's own cost even on a busy box.
process.on("exit", () => {
  const { user, system } = process.cpuUsage();
  process.stderr.write(
    `\neventlab-bench-cpu ${JSON.stringify({ userMs: user / 1000, systemMs: system / 1000 })}\n`,
  );
});
