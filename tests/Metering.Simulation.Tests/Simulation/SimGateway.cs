using Metering.Domain.Payments;

namespace Metering.Simulation.Tests.Simulation;

/// <summary>
/// A payment gateway idempotent by key, like the sandbox: the first call with a key decides the
/// result (by card token: <c>tok_ok</c> succeeds, <c>tok_decline</c> is declined, <c>tok_flaky</c>
/// either) and every later call with that key gets the same answer without charging again. It
/// records every charge per key, which is what the "no card charged twice" check reads.
/// </summary>
public sealed class SimGateway(SimRandom random)
{
    private readonly Dictionary<string, ChargeResult> _results = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];

    public IReadOnlyDictionary<string, ChargeResult> Results => _results;

    /// <summary>Keys in the order the gateway first saw them.</summary>
    public IReadOnlyList<string> Keys => _order;

    public ChargeResult Charge(string key, string token, decimal amount, string currency)
    {
        if (_results.TryGetValue(key, out var first))
        {
            if (first.Amount != amount || first.Currency != currency)
                throw new SimulationViolation($"gateway key '{key}' reused for {amount} {currency}, first charged {first.Amount} {first.Currency}");
            return first;
        }
        var declined = token switch
        {
            "tok_ok" => false,
            "tok_decline" => true,
            _ => random.Chance(0.4),
        };
        var result = declined
            ? new ChargeResult(key, false, null, ChargeFailureCodes.CardDeclined, "Declined by the simulated issuer.", amount, currency)
            : new ChargeResult(key, true, $"ch_{_order.Count + 1}", null, null, amount, currency);
        _results[key] = result;
        _order.Add(key);
        return result;
    }
}
