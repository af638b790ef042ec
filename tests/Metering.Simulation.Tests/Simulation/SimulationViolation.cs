namespace Metering.Simulation.Tests.Simulation;

/// <summary>An invariant of the engine did not hold: the run stops here and reports its seed.</summary>
public sealed class SimulationViolation(string message) : Exception(message);
