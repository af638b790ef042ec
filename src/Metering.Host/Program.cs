using Metering.Host;

await MeteringApp.Build(args).RunAsync();
