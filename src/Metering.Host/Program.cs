using Metering.Host;

if (args is [BrokerCommand.Name, .. var brokerArgs])
    return await BrokerCommand.RunAsync(brokerArgs);

await MeteringApp.Build(args).RunAsync();
return 0;
