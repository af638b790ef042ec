using BenchmarkDotNet.Running;

// dotnet run -c Release --project tools/Metering.Benchmarks -- --filter '*'   (see docs/benchmarks.md)
BenchmarkSwitcher.FromAssembly(typeof(Metering.Benchmarks.HotPathBenchmarks).Assembly).Run(args);
