// Each test starts whole engines (Kestrel, Akka, SQLite, Kafka): run them one at a time on 2 cores.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
