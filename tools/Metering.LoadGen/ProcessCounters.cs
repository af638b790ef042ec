using System.Diagnostics;

namespace Metering.LoadGen;

/// <summary>
/// This process's CPU time and garbage-collector counters at one moment; the difference of two is
/// what a phase of the benchmark cost. Allocated bytes, unlike CPU time, do not drift with the
/// machine's speed.
/// </summary>
/// <param name="Collections">Garbage collections of any generation.</param>
/// <param name="GcPause">Time the process's threads were paused for garbage collection.</param>
public readonly record struct ProcessCounters(TimeSpan Cpu, long Allocated, int Collections, TimeSpan GcPause)
{
    public static ProcessCounters Now() =>
        new(CpuTime(), GC.GetTotalAllocatedBytes(), GC.CollectionCount(0), GC.GetTotalPauseDuration());

    /// <summary>CPU this process used: unlike rates, it barely moves when other work shares the machine.</summary>
    public static TimeSpan CpuTime() => Process.GetCurrentProcess().TotalProcessorTime;

    public static ProcessCounters operator -(ProcessCounters later, ProcessCounters earlier) =>
        new(later.Cpu - earlier.Cpu, later.Allocated - earlier.Allocated, later.Collections - earlier.Collections, later.GcPause - earlier.GcPause);
}
